import { DurationError, parseDuration } from '../options/duration.ts';
import type { MetricType } from './api.ts';
import { parseSelector, SelectorError } from './selectors.ts';
import { trendStat } from './sinks.ts';
import type { Store } from './store.ts';

/**
 * k6 thresholds: `{ 'http_req_duration{step:login}': ['p(95)<500', { threshold: 'rate<0.01',
 * abortOnFail: true, delayAbortEval: '10s' }] }`, each expression `<aggregation> <op> <number>`.
 */

export class ThresholdError extends Error {}

type Op = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export interface Threshold {
  /** the metric or submetric selector it applies to */
  key: string;
  metric: string;
  /** the expression as written (the key of its result in the summary) */
  source: string;
  aggregation: string;
  op: Op;
  value: number;
  abortOnFail: boolean;
  delayAbortEvalMs: number;
}

const SUPPORTED: Record<MetricType, readonly string[]> = {
  counter: ['count', 'rate'],
  gauge: ['value'],
  rate: ['rate'],
  trend: ['avg', 'min', 'max', 'med', 'p'],
};

export type ThresholdsOption = Record<
  string,
  ReadonlyArray<string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string | number }>
>;

/** Parses one expression; throws with k6's wording. */
export function parseExpression(source: string): { aggregation: string; op: Op; value: number } {
  const m =
    /^\s*([a-z]+(?:\(\s*[^)]*\))?)\s*(===|==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i.exec(
      source,
    );
  if (!m)
    throw new ThresholdError(
      `failed parsing threshold expression "${source}"; reason: malformed threshold expression`,
    );
  const method = (m[1] as string).replace(/\s+/g, '');
  const p = /^p\((.*)\)$/.exec(method);
  if (p) {
    const n = Number(p[1]);
    if (p[1] === '' || !Number.isFinite(n)) {
      throw new ThresholdError(
        `failed parsing threshold expression "${source}"; reason: malformed percentile value`,
      );
    }
    if (n < 0 || n > 100) {
      throw new ThresholdError(
        `failed parsing threshold expression "${source}"; reason: malformed percentile value, provide a number between 0 and 100`,
      );
    }
    return { aggregation: `p(${n})`, op: m[2] as Op, value: Number(m[3]) };
  }
  if (!['count', 'rate', 'value', 'avg', 'min', 'max', 'med'].includes(method)) {
    throw new ThresholdError(
      `failed parsing threshold expression "${source}"; reason: failed parsing method from expression`,
    );
  }
  return { aggregation: method, op: m[2] as Op, value: Number(m[3]) };
}

function delayMs(value: string | number | undefined, where: string): number {
  if (value === undefined) return 0;
  try {
    return parseDuration(value, `${where}.delayAbortEval`);
  } catch (err) {
    if (err instanceof DurationError) throw new ThresholdError(err.message);
    throw err;
  }
}

/** The submetric selectors a thresholds option needs (give them to every store). */
export function submetricSelectors(option: ThresholdsOption | undefined): string[] {
  return Object.keys(option ?? {}).filter((k) => k.includes('{'));
}

/** Parses every threshold and checks it against the metric's type, as k6 does before the test. */
export function parseThresholds(
  option: ThresholdsOption | undefined,
  typeOf: (name: string) => MetricType | undefined,
): Threshold[] {
  const out: Threshold[] = [];
  for (const [key, list] of Object.entries(option ?? {})) {
    let metric: string;
    let normalised: string;
    try {
      const sel = parseSelector(key);
      metric = sel.metric;
      normalised = sel.key;
    } catch (err) {
      if (err instanceof SelectorError)
        throw new ThresholdError(`unable to validate threshold expressions; reason: ${err.message}`);
      throw err;
    }
    const type = typeOf(metric);
    if (!type)
      throw new ThresholdError(`invalid threshold defined on ${key}; reason: no metric name "${key}" found`);
    if (!Array.isArray(list)) throw new ThresholdError(`thresholds.${key}: expected an array of expressions`);
    for (const entry of list) {
      const cfg = typeof entry === 'string' ? { threshold: entry } : entry;
      if (typeof cfg?.threshold !== 'string') {
        throw new ThresholdError(
          `thresholds.${key}: expected a string or {threshold, abortOnFail?, delayAbortEval?}`,
        );
      }
      const parsed = parseExpression(cfg.threshold);
      const method = parsed.aggregation.startsWith('p(') ? 'p' : parsed.aggregation;
      if (!SUPPORTED[type].includes(method)) {
        throw new ThresholdError(
          `invalid threshold "${cfg.threshold}" applied on metric ${key}; reason: unsupported aggregation method ${method} on metric of type ${type}. supported aggregation methods for this metric are: ${SUPPORTED[type].join(', ')}`,
        );
      }
      out.push({
        key: normalised,
        metric,
        source: cfg.threshold,
        ...parsed,
        abortOnFail: cfg.abortOnFail === true,
        delayAbortEvalMs: delayMs(cfg.delayAbortEval, `thresholds.${key}`),
      });
    }
  }
  return out;
}

function compare(a: number, op: Op, b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
    case '===':
      return a === b;
    case '!=':
      return a !== b;
  }
}

export interface ThresholdResult {
  threshold: Threshold;
  ok: boolean;
  /** the aggregated value it was judged on */
  actual: number;
}

/** Judges every threshold on the store's current aggregates (k6 also passes a threshold with no samples... unless it compares 0). */
export function evaluateThresholds(
  store: Store,
  thresholds: readonly Threshold[],
  elapsedMs: number,
): ThresholdResult[] {
  return thresholds.map((t) => {
    const found = store.sinkOf(t.key);
    let actual = 0;
    if (found) {
      const s = found.sink;
      if (s.kind === 'counter')
        actual = t.aggregation === 'count' ? s.count : elapsedMs > 0 ? s.count / (elapsedMs / 1000) : 0;
      else if (s.kind === 'gauge') actual = s.value;
      else if (s.kind === 'rate') actual = s.total ? s.passes / s.total : 0;
      else actual = trendStat(s, t.aggregation) ?? 0;
    }
    return { threshold: t, ok: compare(actual, t.op, t.value), actual };
  });
}

/** The failed abortOnFail thresholds whose delay has passed. */
export function thresholdsToAbort(results: readonly ThresholdResult[], elapsedMs: number): ThresholdResult[] {
  return results.filter((r) => !r.ok && r.threshold.abortOnFail && elapsedMs >= r.threshold.delayAbortEvalMs);
}
