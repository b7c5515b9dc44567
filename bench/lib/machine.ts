/**
 * What a figure was measured on: the machine, Node, and how busy the machine was with other work
 * while a suite ran (other engineers' tests share it), so a reader can judge a figure's noise.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { round } from './stats';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(totalmem() / 1024 ** 3, 0),
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

/** How busy the machine was during a suite. */
export interface LoadInfo {
  /** 1-minute load average when the suite started and ended. */
  loadAverage: { before: number; after: number };
  /** CPU cores busy on average over the suite, everything included (Linux /proc/stat; null elsewhere). */
  busyCores: number | null;
  /** Of those, this bench process and the children it waited for (the service under test, its baseline). */
  benchCores: number | null;
  /** The rest: work that is not the bench's (other processes on the machine). */
  otherCores: number | null;
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function ownTicks(): number | undefined {
  try {
    // Fields after the command name: utime, stime, cutime, cstime are the 12th–15th.
    const text = readFileSync('/proc/self/stat', 'utf8');
    const f = text
      .slice(text.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0);
  } catch {
    return undefined;
  }
}

/** Starts watching; the returned function ends the watch and tells the load. */
export function watchLoad(): () => LoadInfo {
  const before = { load: loadavg()[0] ?? 0, machine: machineTicks(), own: ownTicks() };
  return () => {
    const machine = machineTicks();
    const own = ownTicks();
    const n = cpus().length;
    let busyCores: number | null = null;
    let benchCores: number | null = null;
    if (machine && before.machine && machine.total > before.machine.total) {
      const share = n / (machine.total - before.machine.total);
      busyCores = round((machine.busy - before.machine.busy) * share, 2);
      if (own !== undefined && before.own !== undefined) benchCores = round((own - before.own) * share, 2);
    }
    return {
      loadAverage: { before: round(before.load, 2), after: round(loadavg()[0] ?? 0, 2) },
      busyCores,
      benchCores,
      otherCores: busyCores !== null && benchCores !== null ? round(Math.max(0, busyCores - benchCores), 2) : null,
    };
  };
}
