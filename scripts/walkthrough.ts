import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isEligible, personAt } from '../model/population.ts';
import { type Answer, FIXTURES, RegistrantClient } from './registrant-client.ts';

/**
 * Walks one registrant through the eight steps of the journey against a running stack: the
 * interim main job, and a quick way to see the service answer as a registrant does.
 */

export interface WalkthroughStep {
  step: string;
  status: number;
  ms: number;
  detail: string;
}

export interface WalkthroughOptions {
  /** population seed the ministry mock runs with */
  seed?: number;
  /** which person of the synthetic population registers (default: the first eligible one) */
  index?: number;
  wave?: number;
  onStep?: (s: WalkthroughStep) => void;
}

export async function walkOneRegistrant(
  urls: { registration: string; email: string },
  options: WalkthroughOptions = {},
): Promise<WalkthroughStep[]> {
  const seed = options.seed ?? 2020;
  const person = personAt(seed, options.index ?? findEligibleIndex(seed));
  const client = new RegistrantClient(urls, `${person.nik}.${Date.now()}@example.test`);
  const steps: WalkthroughStep[] = [];
  const record = (
    step: string,
    r: Answer<unknown>,
    ok: number,
    detail: (body: Record<string, unknown>) => string,
  ) => {
    const body = (r.body ?? {}) as Record<string, unknown>;
    const s = {
      step,
      status: r.status,
      ms: Math.round(r.ms),
      detail: r.status === ok ? detail(body) : JSON.stringify(r.body),
    };
    steps.push(s);
    options.onStep?.(s);
    if (r.status !== ok) throw new Error(`${step}: expected HTTP ${ok}, got ${r.status} ${s.detail}`);
  };

  record('create_account', await client.createAccount(), 201, () => client.email);
  const t0 = performance.now();
  const token = await client.verificationToken();
  const verified = await client.verifyEmail(token);
  record(
    'verify_email',
    { ...verified, ms: performance.now() - t0 },
    200,
    () => 'link from the mailbox (delivery included)',
  );
  record('login', await client.login(), 201, () => 'bearer token');
  record(
    'submit_biodata',
    await client.submitBiodata(person),
    200,
    (b) => `NIK ${person.nik}, priority ${String(b.priority)}`,
  );
  const photo = readFileSync(join(FIXTURES, 'ktp-medium.jpg'));
  record(
    'upload_photo',
    await client.uploadPhoto(photo),
    201,
    () => `${(photo.length / 1024).toFixed(0)} KiB JPEG`,
  );
  record('submit_assessment', await client.submitAssessment(), 200, (b) => `score ${String(b.score)}`);
  const wave = options.wave ?? 1;
  record('join_wave', await client.joinWave(wave), 201, () => `wave ${wave}`);
  const status = await client.status();
  record('read_status', status, 200, (b) => `stage ${String(b.stage)}`);
  if (status.body.stage !== 'joined_wave')
    throw new Error(`read_status: expected stage joined_wave, got ${JSON.stringify(status.body)}`);
  return steps;
}

/** The first person of the population the registries know and the rules accept. */
export function findEligibleIndex(seed: number, from = 0): number {
  for (let i = from; i < from + 10_000; i++) if (isEligible(personAt(seed, i))) return i;
  throw new Error(`no eligible person among 10,000 from index ${from}: check the population shares`);
}
