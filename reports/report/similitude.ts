import type { Report, ReportSimilitude } from '../report-model.ts';
import { type Block, code, col, type Inline, paragraph, type Section } from './blocks.ts';
import { count, decimal, dependencyLabel, significant } from './wording.ts';

/**
 * The report's "Similitude" section: how the capacity file, at full size, was scaled into this
 * run (model/similitude.ts), so that a reader knows what the run's small numbers stand for.
 */

/** "1/6.67": the share as one over a number, which reads better than 0.15 of a rate. */
export function oneIn(factor: number): string {
  return `1/${significant.format(1 / factor)}`;
}

const stretch = (k: number) => (k === 1 ? '1 (the day’s)' : `× ${decimal.format(k)}`);

function cpuSentence(s: ReportSimilitude): Inline[] {
  const c = s.cpu;
  if (!c) return [];
  const design = s.serviceProfile ? `the ${s.serviceProfile} design` : 'the design';
  // Equal: the hash cost was given (--knob) or needed no lowering; it is the design's as run.
  const hashing: Inline[] =
    c.scryptN === c.fullSizeScryptN
      ? ['hashing at the design’s own ', code(`SCRYPT_N=${c.scryptN}`)]
      : ['hashing at ', code(`SCRYPT_N=${c.scryptN}`), ` instead of ${design}’s ${c.fullSizeScryptN}`];
  const stated =
    c.fullSizeCores === null
      ? 'the capacity file states no service cores'
      : `the capacity file states ${count(c.fullSizeCores)}`;
  const so =
    c.fullSizeCores === null
      ? ''
      : c.standsForCores >= c.fullSizeCores
        ? ' Its service was no busier than the full-size one.'
        : ' Its service was busier than the full-size one would be: a CPU that ran out here may not at full size.';
  return [
    `This machine’s ${count(c.cores)} ${c.cores === 1 ? 'core' : 'cores'}, `,
    ...hashing,
    `, stood for ${count(c.standsForCores)} cores of the full-size service (${stated}).${so}`,
  ];
}

function poolSentence(s: ReportSimilitude): Inline[] {
  const p = s.smtpPool;
  if (!p) return [];
  const run = p.workers * p.connections;
  const processes = (n: number) => `${count(n)} ${n === 1 ? 'process' : 'processes'}`;
  if (p.fullSizeWorkers === null)
    return [
      `The service’s SMTP connections were the design’s, ${count(p.connections)} in each of its ${processes(p.workers)} (`,
      code(`EMAIL_CONNECTIONS=${p.connections}`),
      '): the capacity file states no service workers, so the full-size pool is not known.',
    ];
  const full = p.fullSizeWorkers * p.fullSizeConnections;
  return [
    `The service’s SMTP connections: ${count(run)} (`,
    code(`EMAIL_CONNECTIONS=${p.connections}`),
    ` in ${processes(p.workers)}) for the full-size service’s ${count(full)} (${count(p.fullSizeConnections)} in each of ${processes(p.fullSizeWorkers)})`,
    // Whole connections a process: the share is kept within half a connection a process.
    Math.abs(run - s.factor * full) <= Math.max(1, p.workers / 2)
      ? ', its share like the dependencies’.'
      : `, where its share would be ${count(Math.max(1, Math.round(s.factor * full)))}: a pool that ran out here may not at full size, or the other way round.`,
  ];
}

export function similitudeSection(r: Report): Section | null {
  const s = r.similitude;
  if (!s) return null;
  const id = 'similitude';
  const title = 'Similitude';
  if (!s.scaled)
    return {
      id,
      title,
      blocks: [
        paragraph(
          'The dependencies’ capacities were absolute: the capacity file ',
          code(s.capacityFile),
          ` was enforced as it states them, not scaled by this run’s share of the day’s arrival rate${s.why ? ` (${s.why})` : ''}.`,
        ),
        ...(s.notes.length > 0 ? [{ kind: 'list', items: s.notes.map((n) => [n]) } as Block] : []),
      ],
    };
  const share = oneIn(s.factor);
  const blocks: Block[] = [
    paragraph(
      `This run brought ${share} of the day’s arrival rate (scale × time compression = ${significant.format(s.factor)}); `,
      `each dependency had ${share} of its full-size capacity in `,
      code(s.capacityFile),
      ': its servers and its queue, its link and its mail delivery rate, so that it was as busy as on the full day. ',
      'Service times and timeouts are the day’s, except where whole servers for a fractional share needed a stretch to keep the capacity exact.',
    ),
    {
      kind: 'table',
      caption: 'Each dependency at full size and in this run',
      columns: [
        col('Dependency', false),
        col('Full size: servers'),
        col('Full size: queue'),
        col('This run: servers'),
        col('This run: queue'),
        col('This run: service time'),
      ],
      rows: s.stations.map((x) => [
        [dependencyLabel(x.dependency), ' ', code(x.dependency)],
        [count(x.fullConcurrency)],
        [count(x.fullQueue)],
        [count(x.concurrency)],
        [count(x.queue)],
        [stretch(x.serviceTimeStretch)],
      ]),
    },
  ];
  if (s.notes.length > 0)
    blocks.push(paragraph('Notes on the scaling:'), {
      kind: 'list',
      items: s.notes.map((n) => [n]),
    });
  const cpu = cpuSentence(s);
  if (cpu.length > 0) blocks.push(paragraph(...cpu));
  const pool = poolSentence(s);
  if (pool.length > 0) blocks.push(paragraph(...pool));
  return { id, title, blocks };
}
