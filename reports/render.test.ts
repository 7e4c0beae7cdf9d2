import { describe, expect, it } from 'vitest';
import { COUNTS_2020, LATER_STAGES, OUTCOMES, STAGES, STEPS } from '../model/funnel.ts';
import { SLOS } from '../model/slo.ts';
import { SATURATION } from '../model/station.ts';
import {
  arrivalsChart,
  funnelChart,
  lossesChart,
  scopeIds,
  stepLatencyChart,
  utilisationChart,
} from './charts.ts';
import brokenJson from './fixtures/report.broken.json' with { type: 'json' };
import heldJson from './fixtures/report.held.json' with { type: 'json' };
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';
import { count, STAGE_LABELS } from './report/wording.ts';
import { REPORT_VERSION, type Report } from './report-model.ts';

/**
 * The Report with its literal types widened (stage names to string, tuples to arrays): what a JSON
 * import can be checked against at compile time. Assigning a fixture to it catches a missing or
 * mistyped field; the literals themselves are checked at run time by fixtureProblems().
 */
type Widen<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends null
        ? null
        : T extends readonly (infer U)[]
          ? Widen<U>[]
          : T extends object
            ? string extends keyof T
              ? // An open record (reasons, dependencies): JSON's inferred union gives absent keys `?: undefined`.
                { [key: string]: Widen<T[string & keyof T]> | undefined }
              : { [K in keyof T]: Widen<T[K]> }
            : T;

const brokenShape: Widen<Report> = brokenJson;
const heldShape: Widen<Report> = heldJson;

const close = (a: number | null, b: number | null) =>
  a === b || (a !== null && b !== null && Math.abs(a - b) < 1e-4);

/** Everything in a report that the type cannot say: names, order and the arithmetic between fields. */
function fixtureProblems(r: Widen<Report>): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  check(r.format === 'gelombang/report' && r.version === REPORT_VERSION, 'format/version');
  check(r.funnel.map((f) => f.stage).join() === STAGES.join(), 'funnel stages in order');
  const scale = r.run.scale ?? 1;
  r.funnel.forEach((f, i) => {
    const prev = r.funnel[i - 1];
    const stage = f.stage as (typeof STAGES)[number];
    const prevStage = STAGES[i - 1];
    check(
      close(f.conversion, prev && prev.reached > 0 ? f.reached / prev.reached : null),
      `${f.stage}: conversion`,
    );
    check(f.count2020 === COUNTS_2020[stage], `${f.stage}: 2020 count`);
    const c2020 = prevStage ? COUNTS_2020[prevStage] : null;
    const expected2020 = f.count2020 !== null && c2020 ? f.count2020 / c2020 : null;
    check(close(f.conversion2020, expected2020), `${f.stage}: 2020 conversion`);
    check(f.fullScale === Math.round(f.reached / scale), `${f.stage}: full scale`);
    const registered = r.funnel[0]?.reached ?? 0;
    check(close(f.ofRegistered, registered ? f.reached / registered : null), `${f.stage}: of registered`);
    check(
      close(f.ofRegistered2020, f.count2020 !== null ? f.count2020 / (COUNTS_2020.registered ?? 1) : null),
      `${f.stage}: of registered in 2020`,
    );
  });
  check(r.losses.map((l) => l.stage).join() === LATER_STAGES.join(), 'loss stages in order');
  r.losses.forEach((l, i) => {
    const outcomes = l.outcomes as Record<string, number>;
    check(Object.keys(outcomes).sort().join() === [...OUTCOMES].sort().join(), `${l.stage}: outcomes`);
    const total = OUTCOMES.reduce((sum, o) => sum + (outcomes[o] ?? 0), 0);
    check(total === r.funnel[i]?.reached, `${l.stage}: outcomes add up to the previous stage`);
    check(l.outcomes.continued === r.funnel[i + 1]?.reached, `${l.stage}: continued = reached`);
    const sum = (x: Record<string, number | undefined>) =>
      Object.values(x).reduce((a: number, b) => a + (b ?? 0), 0);
    check(sum(l.failedReasons) === l.outcomes.failed, `${l.stage}: failed reasons`);
    check(sum(l.rejectedReasons) === l.outcomes.rejected, `${l.stage}: rejected reasons`);
    check(l.fullScale.failed === Math.round(l.outcomes.failed / scale), `${l.stage}: full-scale failed`);
  });
  check(r.steps.map((s) => s.step).join() === STEPS.join(), 'steps in order');
  for (const s of r.verdict.slos) {
    const slo = SLOS[s.step as (typeof STEPS)[number]];
    check(
      slo !== undefined && ['p95_ms', 'error_rate'].includes(s.objective),
      `slo ${s.step}/${s.objective}: names`,
    );
    check(
      s.target === (s.objective === 'p95_ms' ? slo?.p95Ms : slo?.errorRate),
      `slo ${s.step}/${s.objective}: target`,
    );
    const overRun = s.observed === null || s.observed <= s.target;
    const inWindow = r.verdict.episodes.some((e) =>
      e.misses.some((m) => m.step === s.step && m.objective === s.objective),
    );
    check(s.held === (overRun && !inWindow), `slo ${s.step}/${s.objective}: held`);
  }
  check(
    r.verdict.held === (r.verdict.slos.every((s) => s.held) && r.verdict.episodes.length === 0),
    'verdict.held agrees with the objectives and the episodes',
  );
  const w = r.verdict.window;
  check(w.intervals >= 2 && w.minRequests > 0, 'window: never one interval alone');
  for (const e of r.verdict.episodes) {
    check(
      e.misses.every((m) => m.intervals >= w.intervals) && e.recoveredAtSeconds !== e.toSeconds,
      `episode at ${e.fromSeconds} s: sustained misses`,
    );
  }
  check(
    r.verdict.excursions.every((m) => m.intervals < w.intervals),
    'excursions are shorter than the window',
  );
  check(
    r.verdict.brokeAt === null || r.verdict.brokeAt.tSeconds === r.verdict.episodes[0]?.fromSeconds,
    'brokeAt is when the first episode began',
  );
  const first = r.bottleneck.firstSaturated;
  check(
    first.length === 0
      ? r.bottleneck.resource === null
      : first[0]?.name === r.bottleneck.resource?.name && first[0]?.tSeconds === r.bottleneck.tSeconds,
    'the first resource named is the bottleneck',
  );
  check(
    first.every((f) => f.tSeconds - (first[0]?.tSeconds ?? 0) <= SATURATION.sustainSeconds),
    'resources named together saturated within the saturation window',
  );
  const n = r.series.t.length;
  const all = [
    r.series.arrivalsPerSecond,
    r.series.completionsPerSecond,
    ...Object.values(r.series.utilisation),
    ...Object.values(r.series.stepP95Ms),
  ];
  check(
    all.every((values) => values?.length === n),
    'series aligned with t',
  );
  check(
    Object.keys(r.series.stepP95Ms).every((k) => (STEPS as readonly string[]).includes(k)),
    'series step names',
  );
  for (const d of r.bottleneck.dependencies) {
    const peak = Math.max(...(r.series.utilisation[d.dependency] ?? []).map((x) => x ?? 0));
    check(close(peak, d.peakUtilisation), `${d.dependency}: peak utilisation matches its series`);
  }
  return problems;
}

function asReport(json: Widen<Report>): Report {
  const problems = fixtureProblems(json);
  if (problems.length > 0) throw new Error(`not a consistent Report: ${problems.join('; ')}`);
  return json as Report;
}

const broken = asReport(brokenShape);
const held = asReport(heldShape);

/** A copy of a report with hostile text wherever the report carries free text or names. */
function hostile(report: Report): Report {
  const r: Report = structuredClone(report);
  r.run.scenario = '<script>alert("scenario")</script> | *not bold* & `tick`';
  r.verdict.headline = 'Broke <img src=x onerror=alert(1)> at minute 3 | here';
  r.run.configuration.push('EVIL=<iframe src="https://example.org/x"></iframe> | `x`');
  r.notes.push('1. a note that <b>looks</b> like a list & "quotes"');
  r.bottleneck.consequences.push('<svg onload=alert(2)>');
  const dukcapil = r.series.utilisation.dukcapil ?? [];
  r.series.utilisation['<script>dep</script>'] = dukcapil;
  r.bottleneck.dependencies.push({
    dependency: '<script>dep</script>',
    peakUtilisation: 1,
    saturatedAtSeconds: 5,
    rejections: 0,
  });
  return r;
}

describe('the fixtures', () => {
  it('are consistent Reports (the checks can fail: a tampered copy is refused)', () => {
    expect(fixtureProblems(brokenShape)).toEqual([]);
    expect(fixtureProblems(heldShape)).toEqual([]);
    const tampered = structuredClone(broken);
    tampered.losses[1]!.outcomes.failed += 1;
    expect(fixtureProblems(tampered)).toContain('biodata_verified: outcomes add up to the previous stage');
  });

  it('broken: Dukcapil saturated first at minute 3, then timeouts at submit_biodata', () => {
    expect(broken.verdict.held).toBe(false);
    expect(broken.bottleneck).toMatchObject({ dependency: 'dukcapil', profileMinute: 3 });
    expect(broken.verdict.brokeAt).toMatchObject({
      step: 'submit_biodata',
      dependency: 'dukcapil',
      profileMinute: 3,
    });
    expect(broken.losses.find((l) => l.stage === 'biodata_verified')?.failedReasons.timeout).toBeGreaterThan(
      0,
    );
    expect(broken.series.t).toHaveLength(60);
  });

  it('held: every objective held and nothing saturated', () => {
    expect(held.verdict).toMatchObject({ held: true, brokeAt: null });
    expect(held.bottleneck.dependency).toBeNull();
    expect(held.series.t).toHaveLength(60);
  });
});

describe('renderMarkdown', () => {
  const md = renderMarkdown(broken);
  const sections = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);

  it('says of a break not followed by a whole window held that it broke again, and only of the last that the run ended', () => {
    const again = structuredClone(broken);
    const [e] = again.verdict.episodes;
    if (!e) throw new Error('the broken fixture has no episode');
    again.verdict.episodes = [
      { ...e, recoveredAtSeconds: null },
      { ...e, fromSeconds: e.fromSeconds + 20, toSeconds: e.toSeconds + 20, recoveredAtSeconds: null },
    ];
    const verdict = renderMarkdown(again);
    expect(verdict).toContain(
      `It broke 2 times: from ${e.fromSeconds} s into the run, and had not recovered when it broke again; from ${e.fromSeconds + 20} s into the run, and had not recovered when the run ended.`,
    );
  });

  it('puts the verdict first: headline, then when and where it broke', () => {
    expect(sections[0]).toBe('Verdict');
    const verdict = md.slice(md.indexOf('## Verdict'), md.indexOf('## How far'));
    expect(verdict).toMatch(/^## Verdict\n\n\*\*BROKE\*\* – Broke at minute 3/);
    expect(verdict).toContain('It broke 18 s into the run, minute 3 of the replayed profile');
    expect(verdict).toContain('`submit_biodata`');
    expect(verdict).toContain('Dukcapil (the population registry)');
    expect(sections).toEqual([
      'Verdict',
      'How far registrants got',
      'Who was lost, and why',
      'Response times and errors, step by step',
      'What ran out first',
      'Headroom',
      'How this rehearsal was run',
      'Notes',
    ]);
  });

  it('has a funnel row per stage with the run, 2020 and full-scale figures', () => {
    for (const f of broken.funnel) {
      const row = md.split('\n').find((line) => line.startsWith(`| ${STAGE_LABELS[f.stage]} \`${f.stage}\``));
      expect(row, f.stage).toBeDefined();
      const cells = row!.split(' | ').map((c) => c.replace(/^\| | \|$/g, ''));
      expect(cells[1]).toBe(count(f.reached));
      expect(cells[3]).toBe(f.count2020 === null ? 'not published' : count(f.count2020));
      expect(cells[7]).toBe(count(f.fullScale));
    }
    // email_verified: 1,083 of 1,415 registered; 1,063,028 of 1,432,133 in 2020
    expect(md).toContain('| 1,083 | 76.54 % | 1,063,028 | 74.23 % | 76.54 % | 74.23 % | 541,500 |');
    // joined a wave: the 2020 share of everyone registered (5.43 %), though the stages between were never published
    expect(md).toMatch(/\| – \| [\d.]+ % \| 5\.43 % \| [\d,]+ \|/);
    for (const n of ['1,432,133', '1,063,028', '624,090', '77,834']) expect(md).toContain(n);
  });

  it('names the losses with their reasons, at run and full scale', () => {
    expect(md).toContain(
      '333 failed by the system (timed out: 201; Dukcapil (the population registry) failed: 104',
    );
    expect(md).toContain('59 rejected by the rules (too young: 33');
    expect(md).toContain('| 66 | 82 | 333 | 59 |');
    expect(md).toContain('| 33,000 | 41,000 | 166,500 | 29,500 |');
  });

  it('marks the missed objectives in the step table', () => {
    expect(md).toMatch(
      /\| `submit_biodata` \| 1,466 \| 2,150 ms \| 5,020 ms \|.*\| \*\*MISSED: response time, errors\*\* \|/,
    );
    expect(md).toMatch(/\| `create_account` \|.*\| met \|/);
  });

  it('says HELD for the run that held, with no missed objective', () => {
    const heldMd = renderMarkdown(held);
    expect(heldMd).toContain('**HELD** – Held the profile');
    expect(heldMd).not.toContain('MISSED');
    expect(heldMd).toContain('No dependency saturated. The busiest was');
  });

  it('says "No dependency saturated." with nothing after it when the run measured no dependency', () => {
    const none = structuredClone(held);
    none.bottleneck.dependencies = [];
    expect(renderMarkdown(none)).toContain('\n\nNo dependency saturated.\n\n');
  });

  it('escapes text from the report so it renders as written and cannot break a table', () => {
    const out = renderMarkdown(hostile(broken));
    // Code spans are literal in markdown: a raw `<` is harmless there and only there.
    const outsideCode = out.replace(/(?<!\\)(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, '');
    expect(outsideCode).not.toMatch(/(?<!\\)<(script|img|iframe|b>)/);
    expect(out).toContain(
      '# Rehearsal report: \\<script\\>alert("scenario")\\</script\\> \\| \\*not bold\\* \\& \\`tick\\`',
    );
    expect(out).toContain('- `` EVIL=<iframe src="https://example.org/x"></iframe> | `x` ``');
    expect(out).toContain('- 1\\. a note that \\<b\\>looks\\</b\\>');
    const depRow = out.split('\n').find((line) => line.includes('dep</script>'));
    // The name sits in a code span inside a table: its `|`-free text keeps the row at its six cells.
    expect(depRow?.split(/(?<!\\)\|/).length).toBe(8);
  });
});

/** URLs a browser would fetch: any http(s) URL inside a tag other than an xmlns declaration, url(), @import. */
function fetchableUrls(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/https?:\/\/[^\s"'<>)]*/g)) {
    const before = html.slice(0, m.index);
    const insideTag = before.lastIndexOf('<') > before.lastIndexOf('>');
    const xmlns = /\sxmlns(:\w+)?="$/.test(before);
    if (insideTag && !xmlns) found.push(m[0]);
  }
  for (const m of html.matchAll(/url\((?!#)[^)]*\)|@import[^;]*/g)) found.push(m[0]);
  return found;
}

describe('renderHtml', () => {
  it('escapes every text from the report (HTML injection)', async () => {
    const html = await renderHtml(hostile(broken));
    expect(html).not.toMatch(/<script|<img|<iframe|<svg onload|<b>/i);
    expect(html).toContain(
      '<title>Rehearsal report: &lt;script&gt;alert(&quot;scenario&quot;)&lt;/script&gt;',
    );
    expect(html).toContain('Broke &lt;img src=x onerror=alert(1)&gt; at minute 3');
    expect(html).toContain('&lt;script&gt;dep&lt;/script&gt;');
  });

  it('requests nothing: no script, no external URL, a policy that forbids any fetch', async () => {
    for (const report of [broken, held, hostile(broken)]) {
      const html = await renderHtml(report);
      expect(fetchableUrls(html)).toEqual([]);
      expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b/i);
      expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    }
    // The check above can fail: it finds a fetchable URL, and ignores one that is only text.
    expect(fetchableUrls('<p>http://127.0.0.1:3000</p><img src="https://cdn.example/x.png">')).toEqual([
      'https://cdn.example/x.png',
    ]);
  });

  it('shows the verdict in colour and in words, first', async () => {
    const brokenHtml = await renderHtml(broken);
    const heldHtml = await renderHtml(held);
    expect(brokenHtml).toMatch(
      /<section id="verdict" class="verdict verdict-broke">\n<h2>Verdict<\/h2>\n<p class="headline"><strong>BROKE<\/strong>/,
    );
    expect(heldHtml).toMatch(
      /<section id="verdict" class="verdict verdict-held">\n<h2>Verdict<\/h2>\n<p class="headline"><strong>HELD<\/strong>/,
    );
    expect(brokenHtml.indexOf('id="verdict"')).toBeLessThan(brokenHtml.indexOf('id="funnel"'));
  });

  it('holds the same tables as the markdown, the five charts inline, and print rules', async () => {
    const html = await renderHtml(broken);
    for (const id of ['funnel', 'losses', 'latency', 'utilisation', 'arrivals']) {
      expect(html).toMatch(new RegExp(`<figure class="chart" id="chart-${id}">\\n<svg `));
    }
    expect(html).toContain('<td class="num">1,063,028</td>');
    expect(html).toContain('<strong>MISSED: response time, errors</strong>');
    expect(html).toMatch(/@media print \{[\s\S]*break-inside: avoid/);
  });
});

describe('charts', () => {
  const t = [5, 10, 15, 20, 25, 30];
  const withGap = [1, 2, 3, null, 2, 1];
  const linePaths = (svg: string) =>
    [...svg.matchAll(/aria-roledescription="line mark" d="([^"]+)"/g)].map((m) => m[1] ?? '');

  it('draw each line with its data, and a null as a gap', async () => {
    const svgs = await Promise.all([
      arrivalsChart(t, [1, 2, 3, 4, 5, 6], withGap),
      stepLatencyChart(
        t,
        { submit_biodata: withGap, read_status: [20, 21, 22, 23, 24, 25] },
        { submit_biodata: 3000 },
      ),
      utilisationChart(t, { dukcapil: withGap, email: [0.1, 0.2, 0.3, 0.2, 0.1, 0.1] }),
    ]);
    for (const svg of svgs) {
      expect(svg.startsWith('<svg')).toBe(true);
      const paths = linePaths(svg);
      expect(paths).toHaveLength(2);
      // One series is whole (one subpath), the other broken at its null (two subpaths).
      expect(paths.map((d) => d.match(/M/g)?.length).sort()).toEqual([1, 2]);
    }
    expect(svgs[1]).toContain('objective 3,000 ms: submit_biodata');
    expect(svgs[2]).toContain('saturated: 95 % of servers busy for 10 s');
  });

  it('keep a 0 ms latency on the log scale without flattening the other points', async () => {
    const svg = await stepLatencyChart(t.slice(0, 4), { read_status: [0, 5, 10, 20] });
    const ys = (linePaths(svg)[0] ?? '')
      .split(/[ML]/)
      .filter(Boolean)
      .map((p) => Number(p.split(',')[1]));
    expect(ys).toHaveLength(4);
    expect(new Set(ys).size).toBe(4);
  });

  it('draw the funnel and the losses as bars with their counts', async () => {
    const funnel = await funnelChart(
      ['registered', 'email_verified'],
      [1415, 1083],
      [null, 0.7654],
      [null, 0.7423],
    );
    expect(funnel.startsWith('<svg')).toBe(true);
    expect(funnel.match(/aria-roledescription="bar"/g)).toHaveLength(2);
    expect(funnel).toContain('1,083 · 76.5 % · 2020: 74.2 %');
    expect(funnel.match(/aria-roledescription="tick"/g)).toHaveLength(1);
    const losses = await lossesChart(
      ['email_verified', 'biodata_verified'],
      [262, 66],
      [58, 82],
      [12, 333],
      [0, 59],
    );
    expect(losses.match(/aria-roledescription="bar"/g)).toHaveLength(8);
    expect(losses).toContain('>333</text>');
    expect(losses).toContain('failed by the system');
  });

  it('give every chart its own element ids, and refer to no external URL', async () => {
    const svgs = await Promise.all([
      funnelChart(['a'], [1], [null], [null]),
      lossesChart(['b'], [1], [1], [1], [1]),
      arrivalsChart(t, withGap, withGap),
      stepLatencyChart(t, { login: withGap }),
      utilisationChart(t, { dtks: withGap }),
    ]);
    const ids = svgs.flatMap((svg) => [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    expect(new Set(ids).size).toBe(ids.length);
    for (const svg of svgs) expect(fetchableUrls(svg)).toEqual([]);
    // Today's specs clip nothing, so Vega writes no id; the day one does, it is scoped to its chart.
    const vegaOutput =
      '<svg><clipPath id="clip1"><rect/></clipPath><g clip-path="url(#clip1)"><use href="#clip1"/></g></svg>';
    expect(scopeIds(vegaOutput, 'losses')).toBe(
      '<svg><clipPath id="losses-clip1"><rect/></clipPath><g clip-path="url(#losses-clip1)"><use href="#losses-clip1"/></g></svg>',
    );
  });

  it('refuse a series that does not match the intervals, naming it', async () => {
    await expect(arrivalsChart(t, [1, 2], withGap)).rejects.toThrow(
      /"arrivals \(new registrants\)": 2 values for 6 intervals/,
    );
    await expect(lossesChart(['a', 'b'], [1], [1, 2], [1, 2], [1, 2])).rejects.toThrow(
      /losses chart: "leftByChoice" has 1 values for 2 stages/,
    );
  });
});
