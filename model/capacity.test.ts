import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CapacityFileError, DEPENDENCIES, parseCapacityFile } from './capacity.ts';

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`../mock-services/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;

/** The 2020 file with one change, parsed: the error's message, or '' when it parsed. */
function problem(change: (file: Record<string, Record<string, unknown>>) => void): string {
  const file = read('capacity.2020.json');
  change(file);
  try {
    parseCapacityFile(file, 'capacity.2020.json');
    return '';
  } catch (err) {
    if (!(err instanceof CapacityFileError)) throw err;
    return err.message;
  }
}

describe('the capacity file', () => {
  it('states the 2020 dependencies at full size, each value with its reason', () => {
    const file = read('capacity.2020.json');
    const parsed = parseCapacityFile(file, 'capacity.2020.json');
    expect(parsed.service).toMatchObject({ cores: 96, workers: 64, commitsPerSecond: 20_000 });
    expect(parsed.capacity.email.deliveryPerSecond).toBe(105);
    for (const part of [...DEPENDENCIES, 'service']) {
      expect(String(file[part]?.$comment ?? ''), part).toMatch(/assumption|calibrated/);
    }
  });

  it('names the file and the field of a bad value', () => {
    expect(problem((f) => (f.dukcapil = { ...f.dukcapil, concurrency: 0 }))).toMatch(
      /^capacity\.2020\.json: dukcapil\.concurrency: /,
    );
    expect(
      problem(
        (f) =>
          (f.upload = { ...f.upload, serviceTime: { distribution: 'lognormal', medianMs: 90, p99Ms: 10 } }),
      ),
    ).toMatch(/^capacity\.2020\.json: upload\.serviceTime\.p99Ms: p99Ms must be >= medianMs/);
    expect(problem((f) => (f.email = { ...f.email, deliveryPerSecond: 0 }))).toMatch(
      /email\.deliveryPerSecond: expected mails delivered a second, more than 0/,
    );
    expect(problem((f) => (f.service = { ...f.service, commitsPerSecond: -5 }))).toMatch(
      /^capacity\.2020\.json: service\.commitsPerSecond: expected commits a second, more than 0/,
    );
    expect(problem((f) => (f.service = { ...f.service, cpus: 4 }))).toMatch(/service: .*cpus/);
    expect(problem((f) => (f.sms = { ...f.email }))).toMatch(/sms/);
    expect(problem((f) => delete f.dtks)).toMatch(/dtks/);
  });
});
