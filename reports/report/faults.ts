import type { Report, ReportFault } from '../report-model.ts';
import { type Block, type ChartMark, code, col, type Inline, paragraph, type Section } from './blocks.ts';
import { count, decimal, dependencyLabel, pct } from './wording.ts';

/**
 * The report's "Faults" section and the marks its time-series charts carry: what the rehearsal's
 * fault schedule did, when, and what the funnel saw while it lasted.
 */

const TIME_SERIES_CHARTS = new Set(['latency', 'utilisation', 'arrivals']);

const short = (f: ReportFault) =>
  f.kind === 'kill'
    ? `${f.target} killed`
    : f.kind === 'errorRate'
      ? `${f.target} failing`
      : `${f.target} ${f.kind}`;

/** The span each fault was in effect, for the charts (a kill: from the kill to ready again). */
export function faultMarks(r: Report): ChartMark[] {
  const end = r.series.t[r.series.t.length - 1] ?? 0;
  return (r.faults ?? []).flatMap((f) =>
    f.fromSeconds === null
      ? []
      : [
          {
            fromSeconds: f.fromSeconds,
            toSeconds: f.toSeconds ?? Math.max(end, f.fromSeconds),
            label: short(f),
          },
        ],
  );
}

/** Shades the faults on every time-series chart of the sections, and says so in the caption. */
export function markFaults(r: Report, sections: Section[]): Section[] {
  const marks = faultMarks(r);
  if (marks.length === 0) return sections;
  return sections.map((s) => ({
    ...s,
    blocks: s.blocks.map((b) =>
      b.kind === 'chart' && TIME_SERIES_CHARTS.has(b.chart.id)
        ? {
            ...b,
            chart: { ...b.chart, marks },
            caption: `${b.caption} Shaded: the faults the rehearsal injected (see “Faults”).`,
          }
        : b,
    ),
  }));
}

const secondsOrDash = (s: number | null) => (s === null ? '–' : `${decimal.format(s)} s`);
const countOrDash = (n: number | null) => (n === null ? '–' : count(n));

function row(f: ReportFault): Inline[][] {
  const e = f.effect;
  const what: Inline[] = [
    f.kind === 'kill' ? f.description : f.description.replace(f.target, dependencyLabel(f.target)),
    ' (',
    code(f.origin),
    ')',
  ];
  return [
    what,
    [decimal.format(f.profileMinute)],
    [secondsOrDash(f.plannedSeconds)],
    [
      f.fromSeconds === null
        ? 'never'
        : `${secondsOrDash(f.fromSeconds)} to ${f.toSeconds === null ? 'the end' : secondsOrDash(f.toSeconds)}`,
    ],
    [f.downtimeSeconds === null ? '–' : secondsOrDash(f.downtimeSeconds)],
    [countOrDash(e?.requests ?? null)],
    [countOrDash(e?.failedRequests ?? null)],
    [`${pct(e?.failedShare ?? null)} (${pct(e?.failedShareElsewhere ?? null)})`],
    [countOrDash(e?.registrantsFailed ?? null)],
    [f.kind === 'kill' ? '–' : countOrDash(e?.rejections ?? null)],
  ];
}

export function faultsSection(r: Report): Section | null {
  const faults = r.faults ?? [];
  if (faults.length === 0) return null;
  const simulated = r.run.engine.startsWith('simulator');
  const blocks: Block[] = [
    paragraph(
      simulated
        ? 'This simulated run broke things on purpose, on a schedule given in profile minutes ('
        : 'This rehearsal broke things on purpose, on a schedule given in profile minutes (',
      code('--faults'),
      ', ',
      code('--chaos'),
      simulated
        ? '): a dependency’s station made to fail or slow down as its mock would be, or the registration service killed and restarted. '
        : '): a dependency made to fail or slow down through its mock’s admin endpoint, or the registration service killed and restarted. ',
      'Each row says when the fault was planned, when it was really in effect (seconds since the start of the run) and, for a kill, how long nothing answered. ',
      'The figures after it are over the sampling intervals the fault overlapped, whole intervals: requests the load generator made, how many failed (a refused connection, a timeout or an error status: the run’s series do not count them apart; while a killed service is down they are the requests it refused), ',
      'the share failed against the rest of the run (in brackets), registrants the system failed, and requests the dependency itself refused for want of room. ',
      'A fault shorter than an interval is diluted in it.',
    ),
    {
      kind: 'table',
      caption: 'Faults injected, and the run while each lasted',
      columns: [
        col('Fault', false),
        col('Profile minute'),
        col('Planned at'),
        col('In effect', false),
        col('Down for'),
        col('Requests'),
        col('Failed'),
        col('Failed share (rest of run)'),
        col('Registrants failed'),
        col('Refused by the dependency'),
      ],
      rows: faults.map(row),
    },
  ];
  const problems = faults.filter((f) => f.problem !== null);
  if (problems.length > 0)
    blocks.push(paragraph('Not everything went to plan:'), {
      kind: 'list',
      items: problems.map((f) => [code(f.origin), `: ${f.problem}`]),
    });
  return { id: 'faults', title: 'Faults', blocks };
}
