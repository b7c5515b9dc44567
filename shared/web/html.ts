/**
 * HTML built with escaping by default (docs/SECURITY.md 8): every `${value}` in an `html` template is
 * escaped unless it is itself Html made by this module. There is no other way to make Html.
 */
export class Html {
  private constructor(readonly text: string) {}
  /** @internal only html`` and join() create Html. */
  static trusted(text: string): Html {
    return new Html(text);
  }
  toString(): string {
    return this.text;
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => entities[c] ?? c);
}

type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return Html.trusted(out);
}

/**
 * Markup written in this codebase as a template literal without interpolations (scripts, styles).
 * `never[]` makes any `${…}` a compile error, so input can never reach it.
 */
export function literal(strings: TemplateStringsArray, ...values: never[]): Html {
  if (values.length > 0 || strings.length !== 1) throw new Error('literal`` takes no interpolations');
  return Html.trusted(strings[0] ?? '');
}
