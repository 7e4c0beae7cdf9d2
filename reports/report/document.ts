import { COUNTS_2020, STEPS, type Step } from '../../model/funnel.ts';
import type { LossRow, Report, ReportVerdict, StepRow } from '../report-model.ts';
import {
  type Block,
  type Chart,
  code,
  col,
  type Inline,
  paragraph,
  type ReportDocument,
  type Section,
  strong,
} from './blocks.ts';
import { faultsSection, markFaults } from './faults.ts';
import { similitudeSection } from './similitude.ts';
import { bottleneckSection, verdictSection } from './verdict.ts';
import {
  count,
  decimal,
  dependencyLabel,
  EXIT_CODES,
  failureLabel,
  ms,
  pct,
  REJECTION_LABELS,
  rate,
  STAGE_LABELS,
  STEP_LABELS,
  seconds,
  significant,
} from './wording.ts';

/**
 * What the funnel report says, section by section: the verdict first, then the evidence, then how
 * it was measured. Written for a manager: every term that is not plain English is explained where
 * it first appears.
 */

function scaleSentence(r: Report): string {
  const scale = r.run.scale;
  if (scale === null)
    return 'This run was not a replay of a profile: full-scale figures are the run’s own counts.';
  return (
    `This run replayed ${significant.format(scale * 100)} % of the registrants, so the naive full-scale ` +
    `estimates multiply its counts by ${count(1 / scale)}; they assume the system would behave the same at full size, which queues do not. ` +
    (r.fullScale?.predicted
      ? '“At full scale” below has the simulator’s prediction instead.'
      : 'A rehearsal’s report predicts the full scale with the capacity simulator (“At full scale”).')
  );
}

function funnelSection(r: Report): Section {
  const rows = r.funnel.map((f) => [
    [STAGE_LABELS[f.stage], ' ', code(f.stage)],
    [count(f.reached)],
    [pct(f.conversion)],
    [f.count2020 === null ? 'not published' : count(f.count2020)],
    [pct(f.conversion2020)],
    [pct(f.ofRegistered)],
    [pct(f.ofRegistered2020)],
    [count(f.fullScale)],
  ]);
  return {
    id: 'funnel',
    title: 'How far registrants got',
    blocks: [
      paragraph(
        'Each row is a stage of registration, in the order a registrant reaches them. ',
        'Conversion is the share of the previous stage’s registrants who reached this one. ',
        'The 2020 columns are the real counts 21 hours after Kartu Prakerja registration opened on 11 April 2020 ',
        `(${count(COUNTS_2020.registered ?? 0)} registrations). `,
        'A dash means there is nothing to compare: the first stage, or a count that was never published. ',
        '“Of registered” compares each stage with everyone who signed up, so the end of the journey can be set against 2020 even though the photo and test counts between were never published. ',
        scaleSentence(r),
      ),
      {
        kind: 'table',
        caption: 'Registrants reaching each stage, against 2020',
        columns: [
          col('Stage', false),
          col('Reached'),
          col('Conversion'),
          col('2020 count'),
          col('2020 conversion'),
          col('Of registered'),
          col('Of registered, 2020'),
          col('Full scale, naive'),
        ],
        rows,
      },
      {
        kind: 'chart',
        chart: {
          id: 'funnel',
          stages: r.funnel.map((f) => STAGE_LABELS[f.stage]),
          reached: r.funnel.map((f) => f.reached),
          conversion: r.funnel.map((f) => f.conversion),
          conversion2020: r.funnel.map((f) => f.conversion2020),
        },
        caption:
          'Bars: registrants who reached each stage. Black tick: where the bar would end had the stage converted from the previous one as it did in 2020.',
      },
    ],
  };
}

const LOSS_COLUMNS = [
  col('Stage not reached', false),
  col('Left by choice'),
  col('Still in progress'),
  col('Failed by the system'),
  col('Rejected by the rules'),
];

function lossRow(l: LossRow, outcomes: LossRow['outcomes']): Inline[][] {
  return [
    [STAGE_LABELS[l.stage], ' ', code(l.stage)],
    [count(outcomes.left_by_choice)],
    [count(outcomes.in_progress)],
    [count(outcomes.failed)],
    [count(outcomes.rejected)],
  ];
}

function reasonItems(l: LossRow): Inline[][] {
  const stage = l.stage;
  const items: Inline[][] = [];
  const list = (reasons: Record<string, number>, label: (reason: string) => string): string =>
    Object.entries(reasons)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `${label(reason)}: ${count(n)}`)
      .join('; ');
  if (l.outcomes.failed > 0) {
    const why = Object.keys(l.failedReasons).length > 0 ? ` (${list(l.failedReasons, failureLabel)})` : '';
    items.push([`${STAGE_LABELS[stage]}: ${count(l.outcomes.failed)} failed by the system${why}`]);
  }
  if (l.outcomes.rejected > 0) {
    const why =
      Object.keys(l.rejectedReasons).length > 0
        ? ` (${list(l.rejectedReasons, (x) => REJECTION_LABELS[x] ?? x)})`
        : '';
    items.push([`${STAGE_LABELS[stage]}: ${count(l.outcomes.rejected)} rejected by the rules${why}`]);
  }
  return items;
}

function lossesSection(r: Report): Section {
  const reasons = r.losses.flatMap(reasonItems);
  const blocks: Block[] = [
    paragraph(
      'At each stage, the registrants of the previous stage who did not continue, by what became of them. ',
      strong('Failed by the system'),
      ' is the only kind that is ours to fix: an error, a timeout or a dependency that did not answer. ',
      'Left by choice: registrants who gave up, as people do on any form. ',
      'Still in progress: mid-way when the run ended (in 2020 they had the rest of the day). ',
      'Rejected by the rules: not eligible (too young, for instance).',
    ),
    {
      kind: 'table',
      caption: 'Registrants lost, in this run',
      columns: LOSS_COLUMNS,
      rows: r.losses.map((l) => lossRow(l, l.outcomes)),
    },
    {
      kind: 'table',
      caption: 'The same at full scale (naive: times 1 / scale)',
      columns: LOSS_COLUMNS,
      rows: r.losses.map((l) => lossRow(l, l.fullScale)),
    },
  ];
  if (reasons.length > 0)
    blocks.push(paragraph('Why they were failed or rejected:'), { kind: 'list', items: reasons });
  blocks.push({
    kind: 'chart',
    chart: {
      id: 'losses',
      stages: r.losses.map((l) => STAGE_LABELS[l.stage]),
      leftByChoice: r.losses.map((l) => l.outcomes.left_by_choice),
      inProgress: r.losses.map((l) => l.outcomes.in_progress),
      failed: r.losses.map((l) => l.outcomes.failed),
      rejected: r.losses.map((l) => l.outcomes.rejected),
    },
    caption: 'Registrants lost at each stage, by what became of them (counts on the wider segments).',
  });
  return { id: 'losses', title: 'Who was lost, and why', blocks };
}

function stepResult(v: ReportVerdict, step: Step): Inline {
  const objectives = v.slos.filter((s) => s.step === step);
  if (objectives.length === 0) return 'not judged';
  const missed = objectives
    .filter((s) => !s.held)
    .map((s) => (s.objective === 'p95_ms' ? 'response time' : 'errors'));
  return missed.length === 0 ? 'met' : strong(`MISSED: ${missed.join(', ')}`);
}

function stepRow(s: StepRow, v: ReportVerdict): Inline[][] {
  return [
    [code(s.step)],
    [count(s.requests)],
    [ms(s.p50Ms)],
    [ms(s.p95Ms)],
    [ms(s.p99Ms)],
    [ms(s.sloP95Ms)],
    [pct(s.failedRatio)],
    [pct(s.sloErrorRate)],
    [stepResult(v, s.step)],
  ];
}

/** Steps in journey order, each against its own objective. */
function latencyChart(r: Report): Chart {
  const p95MsByStep: Record<string, Array<number | null>> = {};
  for (const step of STEPS) {
    const values = r.series.stepP95Ms[step];
    if (values) p95MsByStep[step] = values;
  }
  const sloMs = Object.fromEntries(r.steps.map((s) => [s.step, s.sloP95Ms]));
  return { id: 'latency', t: r.series.t, p95MsByStep, sloMs };
}

function stepsSection(r: Report): Section {
  return {
    id: 'steps',
    title: 'Response times and errors, step by step',
    blocks: [
      paragraph(
        'A step is one request a registrant makes on the way through. ',
        'Median, p95 and p99: half, 95 % and 99 % of the step’s requests were answered within this time ',
        '(p95 is what the slowest one in twenty waited). ',
        'Each step has two objectives, a p95 response time and a share of requests that may fail. ',
        'No objective was published in 2020; these are the project’s assumptions (',
        code('model/slo.ts'),
        '). Retries count as requests.',
      ),
      {
        kind: 'table',
        caption: 'Per-step response times and errors against the objectives',
        columns: [
          col('Step', false),
          col('Requests'),
          col('Median'),
          col('p95'),
          col('p99'),
          col('p95 objective'),
          col('Errors'),
          col('Error objective'),
          col('Result', false),
        ],
        rows: r.steps.map((s) => stepRow(s, r.verdict)),
      },
      {
        kind: 'chart',
        chart: latencyChart(r),
        caption:
          'p95 response time of each step over the run (log scale); dashed grey lines are the objectives.',
      },
    ],
  };
}

function headroomParagraph(r: Report): Block {
  const h = r.headroom;
  if (h.sustainedPerSecond === null) {
    return paragraph(
      'The run did not sustain any arrival rate within every objective, so there is no headroom to report.',
    );
  }
  const parts: Inline[] = [
    h.lowerBound
      ? `No objective broke, so this is a lower bound: the system sustained at least ${rate(h.sustainedPerSecond)} registrants a second in this run, the most the run offered`
      : `The highest arrival rate the system sustained with every objective met was ${rate(h.sustainedPerSecond)} registrants a second in this run`,
    h.sustainedFullScalePerMinute === null
      ? '. '
      : `, about ${count(h.sustainedFullScalePerMinute)} a minute at full scale. `,
  ];
  if (h.profilePeakPerMinute !== null)
    parts.push(`The profile’s peak was ${count(h.profilePeakPerMinute)} a minute. `);
  if (h.ratio !== null) {
    parts.push(
      h.ratio >= 1
        ? `Headroom ${h.lowerBound ? 'at least ' : ''}${h.ratio.toFixed(2)}: the system took the peak${h.ratio > 1 ? ' with room to spare' : ''}.`
        : h.lowerBound
          ? `Headroom at least ${h.ratio.toFixed(2)}: the run never offered the peak; the breakpoint scenario finds the real limit.`
          : `Headroom ${h.ratio.toFixed(2)}: the system can take ${pct(h.ratio)} of the peak.`,
    );
  }
  return paragraph(...parts);
}

function headroomSection(r: Report): Section {
  return {
    id: 'headroom',
    title: 'Headroom',
    blocks: [
      headroomParagraph(r),
      {
        kind: 'chart',
        chart: {
          id: 'arrivals',
          t: r.series.t,
          arrivalsPerSecond: r.series.arrivalsPerSecond,
          completionsPerSecond: r.series.completionsPerSecond,
        },
        caption:
          'Registrants arriving and registrants joining a wave (the end of the journey), per second of the run.',
      },
    ],
  };
}

/**
 * The capacity simulator's answer to "and at full size?", set beside the naive multiplication: the
 * same design and capacities at 1 / scale times the load saturate, queue and retry where the
 * small run did not, so the two columns differ exactly where the rehearsal cannot speak for the day.
 */
function fullScaleSection(r: Report): Section | null {
  const f = r.fullScale;
  if (f === null) return null;
  const id = 'full-scale';
  const title = 'At full scale';
  if (!f.predicted)
    return { id, title, blocks: [paragraph(`No full-scale prediction for this run: ${f.why}.`)] };
  const saturated =
    f.firstSaturated.length === 0
      ? 'nothing saturated'
      : `${f.firstSaturated
          .map((x) => (x.kind === 'cpu' ? 'the service’s CPU' : dependencyLabel(x.name)))
          .join(
            ' and ',
          )} ran out first${f.profileMinute === null ? '' : `, at minute ${decimal.format(f.profileMinute)} of the profile`}`;
  return {
    id,
    title,
    verdict: f.held ? 'held' : 'broke',
    blocks: [
      paragraph(
        strong(f.held ? 'Predicted to hold at full scale.' : 'Predicted to break at full scale.'),
        ` The capacity simulator (gelombang simulate), calibrated on this run (${f.calibration}), replayed the same profile window with every registrant, in real time, `,
        `against the same service design and dependency capacities, the service on ${count(f.cores)} cores with no load generator beside it. `,
        `Its verdict: ${f.headline} At full scale ${saturated}. `,
        `It predicts ${count(f.failedBySystem.simulated)} registrants failed by the system, where multiplying this run by 1 / scale says ${count(f.failedBySystem.naive)}.`,
      ),
      ...(f.notes.length > 0
        ? [paragraph('Read it knowing:'), { kind: 'list' as const, items: f.notes.map((n) => [n]) }]
        : []),
      {
        kind: 'table',
        caption: 'Registrants reaching each stage at full scale: simulated, naive, and 2020',
        columns: [
          col('Stage', false),
          col('Simulated'),
          col('Naive (this run × 1 / scale)'),
          col('2020 count'),
          col('Of registered, simulated'),
          col('Of registered, 2020'),
        ],
        rows: f.funnel.map((x) => [
          [STAGE_LABELS[x.stage], ' ', code(x.stage)],
          [count(x.simulated)],
          [count(x.naive)],
          [x.count2020 === null ? 'not published' : count(x.count2020)],
          [pct(x.ofRegistered)],
          [pct(x.ofRegistered2020)],
        ]),
      },
      {
        kind: 'table',
        caption: 'Each step at full scale (simulated) against this run',
        columns: [
          col('Step', false),
          col('p95, simulated'),
          col('p95, this run'),
          col('Objective'),
          col('Failed, simulated'),
          col('Failed, this run'),
        ],
        rows: f.steps.map((s) => [
          [STEP_LABELS[s.step], ' ', code(s.step)],
          [ms(s.p95Ms)],
          [ms(s.measuredP95Ms)],
          [ms(s.sloP95Ms)],
          [pct(s.failedRatio)],
          [pct(s.measuredFailedRatio)],
        ]),
      },
    ],
  };
}

function runFacts(r: Report): Inline[][] {
  const run = r.run;
  const facts: Inline[][] = [
    ['Scenario: ', code(run.scenario)],
    ['Run: ', code(run.runId)],
    [`Engine: ${run.engine}`],
    [`Started: ${run.startedAt}, for ${seconds(run.durationSeconds)}`],
    ['Target: ', code(run.target)],
    [`Exit code: ${run.exitCode} (${EXIT_CODES[run.exitCode] ?? 'see the engine’s documentation'})`],
  ];
  if (run.scale !== null) facts.push([`Scale: ${significant.format(run.scale * 100)} % of the registrants`]);
  if (run.compress !== null)
    facts.push([
      `Time compression: ${decimal.format(run.compress)}× (one second of the run stands for ${decimal.format(run.compress)} seconds of the profile)`,
    ]);
  if (run.windowMinutes !== null)
    facts.push([`Profile window: minutes ${run.windowMinutes[0]} to ${run.windowMinutes[1]}`]);
  return facts;
}

function configurationSection(r: Report): Section {
  const blocks: Block[] = [{ kind: 'list', items: runFacts(r) }];
  if (r.run.configuration.length > 0) {
    blocks.push(paragraph('The service’s settings and the capacity of each dependency:'), {
      kind: 'list',
      items: r.run.configuration.map((line) => [code(line)]),
    });
  }
  return { id: 'configuration', title: 'How this rehearsal was run', blocks };
}

function notesSection(r: Report): Section {
  const blocks: Block[] =
    r.notes.length > 0 ? [{ kind: 'list', items: r.notes.map((n) => [n]) }] : [paragraph('No notes.')];
  return { id: 'notes', title: 'Notes', blocks };
}

export function reportDocument(report: Report): ReportDocument {
  return {
    title: `Rehearsal report: ${report.run.scenario}`,
    sections: markFaults(report, [
      verdictSection(report),
      funnelSection(report),
      lossesSection(report),
      stepsSection(report),
      bottleneckSection(report),
      ...[faultsSection(report)].filter((x): x is Section => x !== null),
      headroomSection(report),
      ...[fullScaleSection(report)].filter((x): x is Section => x !== null),
      ...[similitudeSection(report)].filter((x): x is Section => x !== null),
      configurationSection(report),
      notesSection(report),
    ]),
    withoutCharts: 'The charts are in report.html, next to this file.',
  };
}
