import { SATURATION } from '../../model/station.ts';
import { busiestDependency } from '../bottleneck.ts';
import { LOAD_GENERATOR_PROCESS } from '../record.ts';
import type { Bottleneck, ObjectiveMiss, Report, ReportVerdict } from '../report-model.ts';
import { type Block, code, col, type Inline, paragraph, type Section, strong } from './blocks.ts';
import {
  atTime,
  count,
  decimal,
  dependencyLabel,
  ms,
  pct,
  pct1,
  rate,
  STEP_LABELS,
  seconds,
} from './wording.ts';

/**
 * The two sections a manager reads first: whether the run held (and when it broke and recovered),
 * and what ran out. Both name the saturated resources the same way.
 */

const total = (values: number[]): number => values.reduce((a, b) => a + b, 0);

export function verdictSection(r: Report): Section {
  const v = r.verdict;
  const failed = total(r.losses.map((l) => l.outcomes.failed));
  const failedFull = total(r.losses.map((l) => l.fullScale.failed));
  const blocks: Block[] = [
    { kind: 'headline', parts: [strong(v.held ? 'HELD' : 'BROKE'), ' – ', v.headline] },
  ];
  const missed = missedObjectives(v);
  blocks.push(v.held ? heldParagraph(r) : brokeParagraph(r, missed.length));
  if (missed.length > 0) blocks.push({ kind: 'list', items: missed });
  if (v.excursions.length > 0)
    blocks.push(
      paragraph(
        `Brief excursions, each shorter than the ${seconds(v.window.seconds)} an objective must be missed to count, so not a break:`,
      ),
      { kind: 'list', items: v.excursions.map((e) => [missLabel(r, e)]) },
    );
  blocks.push(
    paragraph(
      failed === 0
        ? 'No registrant was failed by the system.'
        : `In all, ${count(failed)} registrants were failed by the system${fullScaleClause(r, failedFull)}${v.held ? ', within the error budgets' : ''}.`,
    ),
  );
  return { id: 'verdict', title: 'Verdict', verdict: v.held ? 'held' : 'broke', blocks };
}

/** What ran out: "Dukcapil" or "the machine's CPU (2.0 of 2 cores busy, registration 1.4, runner 0.5)". */
function resourceLabel(res: NonNullable<Bottleneck['resource']>): string {
  return res.kind === 'dependency'
    ? dependencyLabel(res.name)
    : `the machine’s CPU (${res.detail.replace(/^CPU: /, '')})`;
}

/** The profile's minute at `t` seconds of a replay, as the report's own figures give it. */
function profileMinuteAt(r: Report, t: number): number | null {
  const { compress, windowMinutes } = r.run;
  return compress === null || windowMinutes === null
    ? null
    : Math.round((windowMinutes[0] + (t * compress) / 60) * 10) / 10;
}

/** "the window": how long an objective must be missed to break, in the reader's words. */
function windowWords(v: ReportVerdict): string {
  return `${seconds(v.window.seconds)} (${v.window.intervals} intervals in a row, each with at least ${v.window.minRequests} of the step’s requests)`;
}

/** "create_account response time (p95) from 42 s to 50 s into the run, up to 3,120 ms" */
function missLabel(r: Report, m: ObjectiveMiss): string {
  const what = m.objective === 'p95_ms' ? 'response time (p95)' : 'error rate';
  const when =
    m.intervals === 1
      ? atTime(m.fromSeconds, profileMinuteAt(r, m.fromSeconds))
      : `from ${seconds(m.fromSeconds)} to ${seconds(m.toSeconds)} into the run`;
  return `${m.step} ${what} ${when}, up to ${m.objective === 'p95_ms' ? ms(m.worst) : pct(m.worst)}`;
}

const capitalised = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/** The resources that saturated first, together: "the email server and the machine’s CPU". */
function firstSaturatedLabel(b: Bottleneck): string {
  const names = b.firstSaturated.map((s) =>
    s.kind === 'cpu' && b.resource?.kind === 'cpu'
      ? resourceLabel(b.resource)
      : s.kind === 'cpu'
        ? 'the machine’s CPU'
        : dependencyLabel(s.name),
  );
  return names.length > 1
    ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
    : (names[0] ?? '');
}

function heldParagraph(r: Report): Block {
  const v = r.verdict;
  const b = r.bottleneck;
  const parts: Inline[] = [
    `All ${v.slos.length} objectives held, over the whole run and in every window of ${windowWords(v)}. `,
  ];
  if (b.resource !== null && b.tSeconds !== null) {
    parts.push(
      `${capitalised(firstSaturatedLabel(b))} did reach saturation ${atTime(b.tSeconds, b.profileMinute)}, but the objectives still held.`,
    );
  } else {
    parts.push('No dependency ran out of capacity.');
  }
  return paragraph(...parts);
}

function recoverySentence(r: Report): string {
  const episodes = r.verdict.episodes;
  // An episode not followed by a whole window held was still broken when the next one began.
  const recovered = (e: ReportVerdict['episodes'][number], last: boolean) =>
    e.recoveredAtSeconds !== null
      ? `recovered ${atTime(e.recoveredAtSeconds, profileMinuteAt(r, e.recoveredAtSeconds))}`
      : last
        ? 'had not recovered when the run ended'
        : 'had not recovered when it broke again';
  const first = episodes[0];
  if (!first) return '';
  if (episodes.length === 1) return ` It ${recovered(first, true)}.`;
  return ` It broke ${episodes.length} times: ${episodes
    .map(
      (e, k) => `from ${seconds(e.fromSeconds)} into the run, and ${recovered(e, k === episodes.length - 1)}`,
    )
    .join('; ')}.`;
}

function brokeParagraph(r: Report, missed: number): Block {
  const v = r.verdict;
  const at = v.brokeAt;
  const parts: Inline[] = [
    at === null
      ? 'The report does not record when it broke.'
      : `It broke ${atTime(at.tSeconds, at.profileMinute)}.`,
  ];
  if (at?.step) {
    const objective =
      at.objective === 'p95_ms'
        ? 'its response time (p95)'
        : at.objective === 'error_rate'
          ? 'its error rate'
          : 'an objective';
    parts.push(
      ' The first objective missed was ',
      objective,
      ' at the step ',
      code(at.step),
      ` (${STEP_LABELS[at.step]}).`,
    );
  }
  if (at?.resource) {
    const first = r.bottleneck.firstSaturated;
    const before = first.filter((s) => s.tSeconds <= at.tSeconds);
    const margin = (before[before.length - 1]?.tSeconds ?? 0) - (before[0]?.tSeconds ?? 0);
    parts.push(
      before.length > 1 && before.length === first.length
        ? ` ${capitalised(firstSaturatedLabel(r.bottleneck))} had saturated before it, within ${seconds(margin)} of each other: too close together to say which ran out first.`
        : at.resource.kind === 'dependency'
          ? ` The first dependency to run out of capacity was ${dependencyLabel(at.resource.name)}.`
          : ` What ran out first was ${resourceLabel(at.resource)}: no dependency was saturated before it.`,
    );
  }
  parts.push(recoverySentence(r));
  parts.push(
    ` An objective counts as broken when it is missed over the whole run, or throughout a window of ${windowWords(v)}.`,
  );
  if (missed > 0) parts.push(' Objectives missed:');
  return paragraph(...parts);
}

function missedObjectives(v: ReportVerdict): Inline[][] {
  const windows = v.episodes.flatMap((e) => e.misses);
  return v.slos
    .filter((s) => !s.held)
    .map((s) => {
      const overRun =
        s.observed !== null && s.observed > s.target
          ? s.objective === 'p95_ms'
            ? `the slowest 5 % took ${ms(s.observed)} or more`
            : `${pct(s.observed)} did`
          : `over the whole run ${s.objective === 'p95_ms' ? `the p95 was ${ms(s.observed)}` : `${pct(s.observed)} did`}, within it`;
      const mine = windows
        .filter((w) => w.step === s.step && w.objective === s.objective)
        .sort((a, b) => a.fromSeconds - b.fromSeconds);
      const worst = (w: ObjectiveMiss) => (s.objective === 'p95_ms' ? ms(w.worst) : pct(w.worst));
      const during = mine.length ? `; ${missedWindows(mine, worst)}` : '';
      const what =
        s.objective === 'p95_ms'
          ? `response time: 95 % of requests should take at most ${ms(s.target)}; ${overRun}${during}`
          : `errors: at most ${pct(s.target)} of requests may fail; ${overRun}${during}`;
      return [code(s.step), ` ${what}`];
    });
}

/** A report names each window an objective was missed in up to this many; more, it sums them up. */
const WINDOWS_LISTED = 3;

/**
 * When an objective was missed: each window, or for a day that kept breaking (a simulated full
 * day can miss one in fifty windows), how many, over what span, and the longest and the worst,
 * so that a manager's paragraph stays a paragraph.
 */
export function missedWindows(mine: ObjectiveMiss[], worst: (w: ObjectiveMiss) => string): string {
  const one = (w: ObjectiveMiss) =>
    `from ${seconds(w.fromSeconds)} to ${seconds(w.toSeconds)} into the run (up to ${worst(w)})`;
  if (mine.length <= WINDOWS_LISTED) return `missed ${mine.map(one).join(', ')}`;
  const first = mine[0] as ObjectiveMiss;
  const last = mine[mine.length - 1] as ObjectiveMiss;
  const span = (w: ObjectiveMiss) => w.toSeconds - w.fromSeconds;
  const total = mine.reduce((sum, w) => sum + span(w), 0);
  const longest = mine.reduce((a, b) => (span(b) > span(a) ? b : a));
  // Of windows equally bad, the longest: a run that failed every request in several says so once.
  const worstOne = mine.reduce((a, b) =>
    b.worst > a.worst || (b === longest && b.worst === a.worst) ? b : a,
  );
  const extremes =
    longest === worstOne
      ? `the longest and worst ${one(longest)}`
      : `the longest ${one(longest)}, the worst ${one(worstOne)}`;
  return `missed in ${count(mine.length)} windows between ${seconds(first.fromSeconds)} and ${seconds(last.toSeconds)} into the run, ${seconds(total)} in all; ${extremes}`;
}

function fullScaleClause(r: Report, fullScale: number): string {
  if (r.run.scale === null || r.run.scale === 1) return '';
  const predicted = r.fullScale?.predicted ? r.fullScale.failedBySystem.simulated : null;
  return predicted === null
    ? ` (about ${count(fullScale)} at full scale, naively)`
    : ` (${count(fullScale)} at full scale naively; the simulator predicts ${count(predicted)}, see “At full scale”)`;
}

/** ", when registrants were arriving at 12.5 a second (80,000 a minute at full scale)" */
function arrivalsClause(b: Bottleneck): string {
  return b.arrivalsPerSecond === null
    ? ''
    : `, when registrants were arriving at ${rate(b.arrivalsPerSecond)} a second` +
        (b.fullScalePerMinute === null ? '' : ` (${count(b.fullScalePerMinute)} a minute at full scale)`);
}

function bottleneckParagraph(r: Report): Block {
  const b = r.bottleneck;
  if (b.firstSaturated.length > 1 && b.tSeconds !== null) {
    const last = b.firstSaturated[b.firstSaturated.length - 1]?.tSeconds ?? b.tSeconds;
    return paragraph(
      `Nothing ran out alone: ${firstSaturatedLabel(b)} saturated within ${seconds(last - b.tSeconds)} of each other (${b.firstSaturated
        .map((s) => `${s.kind === 'cpu' ? 'the CPU' : s.name} at ${seconds(s.tSeconds)}`)
        .join(', ')}), from ${atTime(b.tSeconds, b.profileMinute)}${arrivalsClause(b)}. `,
      `Saturations less than ${SATURATION.sustainSeconds} s apart are named together: which came first is within what differs between two runs of the same rehearsal.`,
    );
  }
  if (b.resource?.kind === 'cpu' && b.tSeconds !== null) {
    return paragraph(
      `No dependency ran out first: the machine’s CPU did, ${atTime(b.tSeconds, b.profileMinute)}${arrivalsClause(b)}. `,
      `${b.resource.detail}. `,
      b.resource.name === LOAD_GENERATOR_PROCESS
        ? 'The load generator used the most of it: the run measured the generator as much as the system; give it its own machine, or lower the scale.'
        : `The process using the most was `,
      ...(b.resource.name === LOAD_GENERATOR_PROCESS
        ? []
        : [
            code(b.resource.name),
            ': its own work (for the registration service, password hashing above all) is the limit here, not a dependency.',
          ]),
    );
  }
  if (b.dependency === null || b.tSeconds === null) {
    const busiest = busiestDependency(b);
    if (!busiest) return paragraph('No dependency saturated.');
    const full = busiest.longestBusySeconds ?? 0;
    return paragraph(
      'No dependency saturated. ',
      `The busiest was ${dependencyLabel(busiest.dependency)}, at ${pct1(busiest.peakUtilisation)} of its capacity at its peak`,
      full > 0
        ? `; ${Math.round(SATURATION.utilisation * 100)} % or more of it was busy for ${seconds(full)} in a row at most, short of the ${SATURATION.sustainSeconds} s that counts as saturated${busiest.rejections > 0 ? `, and it refused ${count(busiest.rejections)} ${busiest.rejections === 1 ? 'request' : 'requests'}` : ''}.`
        : '.',
    );
  }
  return paragraph(
    `The first dependency to saturate was ${dependencyLabel(b.dependency)} `,
    code(b.dependency),
    `, ${atTime(b.tSeconds, b.profileMinute)}${arrivalsClause(b)}.`,
  );
}

function dependencyRows(b: Bottleneck): Inline[][][] {
  return b.dependencies.map((d) => [
    [dependencyLabel(d.dependency), ' ', code(d.dependency)],
    [pct1(d.peakUtilisation)],
    [d.saturatedAtSeconds === null ? 'never' : seconds(d.saturatedAtSeconds)],
    [count(d.rejections)],
    [ms(d.meanServiceMs ?? null)],
    [ms(d.meanCallMs ?? null)],
  ]);
}

export function bottleneckSection(r: Report): Section {
  const b = r.bottleneck;
  const blocks: Block[] = [
    paragraph(
      'A dependency is a service registration relies on: the ministries’ identity registries, the email server, the photo store. ',
      'Its utilisation is the share of its servers that are busy (the highest seen in each interval). ',
      `It counts as saturated once ${Math.round(SATURATION.utilisation * 100)} % or more of its servers stay busy for ${seconds(SATURATION.sustainSeconds)}: `,
      'further requests wait in its queue, and once the queue is full they are refused. A single busy moment does not count.',
    ),
    bottleneckParagraph(r),
  ];
  if (b.consequences.length > 0) {
    blocks.push(paragraph('What followed, in order:'), {
      kind: 'list',
      items: b.consequences.map((c) => [c]),
    });
  }
  blocks.push(
    {
      kind: 'table',
      caption:
        'Each dependency at its busiest, and on average over the run: its own time a request, and how long the registration service waited for one (its queue and the exchange over loopback too; a call the service gave up on at its timeout counts until then, however long the dependency went on)',
      columns: [
        col('Dependency', false),
        col('Peak utilisation'),
        col('Saturated at'),
        col('Requests refused'),
        col('Its time a request (mean)'),
        col('The service waited (mean)'),
      ],
      rows: dependencyRows(b),
    },
    {
      kind: 'chart',
      chart: { id: 'utilisation', t: r.series.t, byDependency: r.series.utilisation },
      caption: `Utilisation of each dependency over the run; the dashed line at ${SATURATION.utilisation} is saturation, once it lasts ${seconds(SATURATION.sustainSeconds)}. A gap is a missing sample.`,
    },
  );
  if (b.cpu !== null) {
    blocks.push({
      kind: 'table',
      caption: `CPU of each process at its busiest${b.cpu.cores !== null ? `, of the machine’s ${b.cpu.cores} cores` : ''} (the load generator shares them)`,
      columns: [col('Process', false), col('Peak cores used'), col('Peak event-loop delay (p99)')],
      rows: b.cpu.processes.map((p) => [
        [code(p.process)],
        [decimal.format(p.peakCores)],
        [ms(p.peakEventLoopLagMs)],
      ]),
    });
  }
  return { id: 'bottleneck', title: 'What ran out first', blocks };
}
