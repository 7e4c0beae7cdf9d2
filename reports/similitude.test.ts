import { describe, expect, it } from 'vitest';
import { makeRecord } from './fixtures/make-record.ts';
import { buildReport } from './funnel-report.ts';
import type { RunManifest, RunRecord } from './record.ts';
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';

/** The report's "Similitude" section, from a record whose capacities were scaled (or not). */

const STATIONS: NonNullable<RunManifest['similitude']>['stations'] = [
  {
    dependency: 'dukcapil',
    fullConcurrency: 33,
    concurrency: 4,
    fullQueue: 60,
    queue: 7,
    serviceTimeStretch: 1.0101,
  },
  {
    dependency: 'email',
    fullConcurrency: 60,
    concurrency: 7,
    fullQueue: 120,
    queue: 14,
    serviceTimeStretch: 1,
  },
];

function withSimilitude(similitude: RunManifest['similitude']): RunRecord {
  const r = makeRecord({ seed: 3, runId: 'similar' });
  r.manifest.stack.knobs = { SERVICE_PROFILE: '2020', SCRYPT_N: '2048' };
  r.manifest.similitude = similitude;
  return r;
}

const scaled = withSimilitude({
  factor: 0.12,
  scaled: true,
  capacityFile: 'mock-services/capacity.2020.json',
  stations: STATIONS,
  notes: ['upload: a queue of 2 x 0.12 rounds to none: requests that would have waited are refused'],
  cpu: { cores: 2, scryptN: 2048, fullSizeScryptN: 16384, standsForCores: 87.2, fullSizeCores: 96 },
});

describe('the Similitude section', () => {
  it('says the rate factor in words, each dependency at both sizes, the notes and what the CPU stood for', () => {
    const report = buildReport(scaled);
    expect(report.similitude).toMatchObject({
      factor: 0.12,
      scaled: true,
      serviceProfile: '2020',
      why: null,
    });
    const md = renderMarkdown(report);
    const section = md.slice(md.indexOf('## Similitude'), md.indexOf('## How this rehearsal was run'));
    expect(section).toContain(
      'This run brought 1/8.33 of the day’s arrival rate (scale × time compression = 0.12); each dependency had 1/8.33 of its full-size capacity in `mock-services/capacity.2020.json`',
    );
    expect(section).toContain(
      '| Dependency | Full size: servers | Full size: queue | This run: servers | This run: queue | This run: service time |',
    );
    expect(section).toContain('| Dukcapil (the population registry) `dukcapil` | 33 | 60 | 4 | 7 | × 1.01 |');
    expect(section).toContain('| the email server `email` | 60 | 120 | 7 | 14 | 1 (the day’s) |');
    expect(section).toContain('- upload: a queue of 2 x 0.12 rounds to none');
    expect(section).toContain(
      'This machine’s 2 cores, hashing at `SCRYPT_N=2048` instead of the 2020 design’s 16384, stood for 87 cores of the full-size service (the capacity file states 96). Its service was busier than the full-size one would be',
    );
  });

  it('says when the hash cost was the design’s own and the cores stood for more than the file states', () => {
    const r = withSimilitude({
      ...(scaled.manifest.similitude as NonNullable<RunManifest['similitude']>),
      cpu: { cores: 16, scryptN: 16384, fullSizeScryptN: 16384, standsForCores: 133.3, fullSizeCores: 96 },
    });
    const md = renderMarkdown(buildReport(r));
    expect(md).toContain(
      'This machine’s 16 cores, hashing at the design’s own `SCRYPT_N=16384`, stood for 133 cores of the full-size service (the capacity file states 96). Its service was no busier than the full-size one.',
    );
  });

  it('says what the service’s SMTP connections were against the full-size pool', () => {
    const at = (smtpPool: NonNullable<RunManifest['similitude']>['smtpPool']) =>
      renderMarkdown(
        buildReport(
          withSimilitude({
            ...(scaled.manifest.similitude as NonNullable<RunManifest['similitude']>),
            smtpPool,
          }),
        ),
      );
    // 0.12 of 64 x 16 = 1,024 is 123: the rehearsal's own choice.
    expect(at({ workers: 1, connections: 123, fullSizeWorkers: 64, fullSizeConnections: 16 })).toContain(
      'The service’s SMTP connections: 123 (`EMAIL_CONNECTIONS=123` in 1 process) for the full-size service’s 1,024 (16 in each of 64 processes), its share like the dependencies’.',
    );
    // One process's 16 where the share is 123 (a pool given with --knob): said to differ.
    expect(at({ workers: 1, connections: 16, fullSizeWorkers: 64, fullSizeConnections: 16 })).toContain(
      'for the full-size service’s 1,024 (16 in each of 64 processes), where its share would be 123: a pool that ran out here may not at full size',
    );
    expect(at({ workers: 2, connections: 16, fullSizeWorkers: null, fullSizeConnections: 16 })).toContain(
      'The service’s SMTP connections were the design’s, 16 in each of its 2 processes (`EMAIL_CONNECTIONS=16`): the capacity file states no service workers',
    );
  });

  it('unscaled: one sentence, the capacities absolute and why', () => {
    const r = withSimilitude({
      factor: 1,
      scaled: false,
      capacityFile: 'mock-services/capacity.default.json',
      stations: STATIONS,
      notes: ['--absolute-capacity: the capacity file was enforced as it is, not scaled by the rate factor'],
    });
    const report = buildReport(r);
    expect(report.similitude).toMatchObject({ scaled: false, notes: [] });
    const md = renderMarkdown(report);
    const section = md.slice(md.indexOf('## Similitude'), md.indexOf('## How this rehearsal was run'));
    expect(section.trim()).toBe(
      '## Similitude\n\nThe dependencies’ capacities were absolute: the capacity file `mock-services/capacity.default.json` was enforced as it states them, not scaled by this run’s share of the day’s arrival rate (--absolute-capacity: the capacity file was enforced as it is, not scaled by the rate factor).',
    );
  });

  it('is in the HTML report too, and absent from a record that does not say', async () => {
    const html = await renderHtml(buildReport(scaled));
    expect(html).toContain('<section id="similitude">');
    expect(html).toContain('stood for 87 cores of the full-size service');
    const none = buildReport(makeRecord({ seed: 3 }));
    expect(none.similitude).toBeUndefined();
    expect(renderMarkdown(none)).not.toContain('## Similitude');
  });
});
