/**
 * k6's metric selectors: `name` or `name{tag:value,other:value}` (values may be quoted), as used
 * by thresholds to define submetrics.
 */
export interface Selector {
  /** the selector as written, normalised: name{a:1,b:2} */
  key: string;
  metric: string;
  tags: Array<[string, string]>;
}

export class SelectorError extends Error {}

export function parseSelector(text: string): Selector {
  const m = /^([^{}\s]+)(?:\{(.*)\})?$/.exec(text.trim());
  if (!m?.[1])
    throw new SelectorError(`malformed metric name '${text}': expected name or name{tag:value,...}`);
  const metric = m[1];
  const tags: Array<[string, string]> = [];
  if (m[2] !== undefined) {
    for (const part of m[2].split(',')) {
      if (!part.trim()) continue;
      const i = part.indexOf(':');
      if (i <= 0)
        throw new SelectorError(`malformed tag filter '${part.trim()}' in '${text}': expected tag:value`);
      const key = part.slice(0, i).trim();
      const value = part
        .slice(i + 1)
        .trim()
        .replace(/^(["'`])(.*)\1$/, '$2');
      tags.push([key, value]);
    }
    if (tags.length === 0) throw new SelectorError(`empty tag filter in '${text}'`);
  }
  return {
    key: tags.length ? `${metric}{${tags.map(([k, v]) => `${k}:${v}`).join(',')}}` : metric,
    metric,
    tags,
  };
}

export function matches(
  tags: Readonly<Record<string, string>> | undefined,
  filter: Array<[string, string]>,
): boolean {
  if (!tags) return false;
  for (const [k, v] of filter) if (tags[k] !== v) return false;
  return true;
}
