import type { Comparison } from './types.ts';

/** The metric of a comparison by id, or an error listing the ids there are (a typo fails loudly). */
export const metric = (c: Comparison, id: string) => {
  const m = c.metrics.find((x) => x.id === id);
  if (!m) throw new Error(`no metric ${id} in ${c.metrics.map((x) => x.id).join(', ')}`);
  return m;
};
