import { describe, expect, it } from 'vitest';
import { durationMs } from '../../model/replay.ts';
import { parseThresholds } from '../metrics/thresholds.ts';
import { DurationError, parseDuration, parseGoDuration } from './duration.ts';

/**
 * The runner's one duration grammar against Go's time.ParseDuration and k6's
 * ParseExtendedDuration (values worked out by hand from Go's and k6 v0.47's source), and the
 * model's reader of the replay's durations held to the same answers on every string of its forms.
 */

/** [text, Go's time.ParseDuration in ms, or null when Go refuses it] */
const GO: Array<[string, number | null]> = [
  ['0', 0],
  ['-0', 0],
  ['+0', 0],
  ['0s', 0],
  ['00s', 0],
  ['300ms', 300],
  ['1.5s', 1500],
  ['1.5m', 90_000],
  ['1h2m3.5s', 3_723_500],
  ['1m30s', 90_000],
  ['1s1m', 61_000],
  ['1h1h', 7_200_000],
  ['2h45m', 9_900_000],
  ['.5s', 500],
  ['5.s', 5000],
  ['1.0000001ms', 1],
  ['100us', 0.1],
  ['100µs', 0.1],
  ['100μs', 0.1],
  ['1500ns', 0.0015],
  ['-1.5h', -5_400_000],
  ['+30s', 30_000],
  ['2562047h', 9_223_369_200_000],
  ['2562048h', null],
  ['', null],
  ['-', null],
  ['s', null],
  ['.s', null],
  ['10', null],
  ['1.5', null],
  ['1sec', null],
  ['5 parsecs', null],
  [' 1s', null],
  ['1s ', null],
  ['1d', null],
  ['1S', null],
  ['1e3s', null],
  ['1..5s', null],
  ['--1s', null],
];

/** [value, k6's option reading in ms, or null when it is refused] */
const K6_OPTIONS: Array<[string | number, number | null]> = [
  ['1m30s', 90_000],
  [500, 500],
  [1.5, 1.5],
  ['500', 500],
  ['1e3', 1000],
  ['1.', 1],
  ['.5', 0.5],
  ['1d', 86_400_000],
  ['1d12h', 129_600_000],
  ['2d3h4m', 183_840_000],
  ['0d', 0],
  ['1.5d', null],
  ['1d-1h', null],
  ['d', null],
  ['-1s', null],
  ['-5', null],
  [-1, null],
  [Number.NaN, null],
  ['NaN', null],
  ['Infinity', null],
  ['', null],
  ['5 parsecs', null],
];

describe("Go's time.ParseDuration, as k6's CLI flags read durations", () => {
  it.each(GO)('%j', (text, ms) => {
    if (ms === null) expect(() => parseGoDuration(text, '--duration')).toThrow(DurationError);
    else expect(parseGoDuration(text, '--duration')).toBeCloseTo(ms, 9);
  });

  it('names the flag, the text and why it is not a duration', () => {
    expect(() => parseGoDuration('5 parsecs', '--duration')).toThrow(
      /^--duration: "5 parsecs" is not a duration: unknown unit " parsecs"; e\.g\. "30s"/,
    );
    expect(() => parseGoDuration('10', '-d')).toThrow(/"10" is not a duration: missing unit/);
    expect(() => parseGoDuration('2562048h', '-d')).toThrow(/out of range/);
  });
});

describe("k6's ParseExtendedDuration, as options, thresholds and request params read them", () => {
  it.each(K6_OPTIONS)('%j', (value, ms) => {
    if (ms === null) expect(() => parseDuration(value, 'options.duration')).toThrow(/^options\.duration: /);
    else expect(parseDuration(value, 'options.duration')).toBeCloseTo(ms, 9);
  });

  it('reads every string Go reads alike, when it is not negative', () => {
    for (const [text, ms] of GO)
      if (ms !== null && ms >= 0) expect(parseDuration(text, 'x'), text).toBeCloseTo(ms, 9);
  });

  it("reads a threshold's delayAbortEval in the same grammar ('1m30s', a number of ms)", () => {
    const typeOf = () => 'rate' as const;
    const [t] = parseThresholds(
      { http_req_failed: [{ threshold: 'rate<0.1', abortOnFail: true, delayAbortEval: '1m30s' }] },
      typeOf,
    );
    expect(t?.delayAbortEvalMs).toBe(90_000);
    expect(() =>
      parseThresholds({ checks: [{ threshold: 'rate>0.9', delayAbortEval: '90 s' }] }, typeOf),
    ).toThrow(/thresholds\.checks\.delayAbortEval: "90 s" is not a duration/);
  });
});

describe("the model's durationMs, on the forms the replay writes", () => {
  /** The strings of its forms: "0", or unsigned decimals each with h, m, s or ms. */
  const ofItsForms = (s: string) => s === '0' || /^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s);
  const strings = [
    ...GO.map(([s]) => s),
    '0ms',
    '238ms',
    '252000ms',
    '12.5s',
    '1h30m15s',
    '999999999h',
    '9223372036854ms',
    '9223372036855ms',
  ];

  it('accepts exactly the strings of its forms that the runner accepts, with the same value', () => {
    const checked = strings.filter(ofItsForms);
    expect(checked.length).toBeGreaterThan(15);
    for (const s of checked) {
      let runner: number | undefined;
      try {
        runner = parseGoDuration(s, 'x');
      } catch {
        runner = undefined;
      }
      if (runner === undefined) expect(() => durationMs(s), s).toThrow(/cannot read/);
      // Go truncates to whole nanoseconds: the two agree within one.
      else expect(Math.abs(durationMs(s) - runner), s).toBeLessThanOrEqual(1e-6);
    }
  });

  it('refuses the forms it does not handle rather than reading them differently', () => {
    for (const s of strings.filter((x) => !ofItsForms(x))) expect(() => durationMs(s), s).toThrow();
  });
});
