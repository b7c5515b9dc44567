/** Statistics of the bench: medians and percentiles of samples, rounding for the figures. */

export function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** The p-th percentile (0–1) of values, linear between neighbours; NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Total length of the union of [start, end] intervals: time during which at least one was open. */
export function unionLength(intervals: { start: number; end: number }[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let open = -Infinity;
  let close = -Infinity;
  for (const { start, end } of sorted) {
    if (start > close) {
      if (close > open) total += close - open;
      open = start;
      close = end;
    } else if (end > close) close = end;
  }
  if (close > open) total += close - open;
  return total;
}
