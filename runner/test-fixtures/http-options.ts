import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The test options of k6's that change what is sent or kept, on both engines (runner tests and
 * test/real-k6.test.ts run the same scripts): discardResponseBodies, userAgent,
 * noConnectionReuse, noVUConnectionReuse and minIterationDuration. Plain JavaScript as k6 v0.47's
 * compiler takes it. Every expectation is a check or a threshold, so a run exits 0 only if all
 * hold.
 */

/**
 * Against test-fixtures/cookies-redirects.ts's server (`/echo` answers with the User-Agent it
 * got). `-e UA=...` sets options.userAgent ('' sends none); without it, the option is unset.
 */
export function httpOptionsScript(dir: string): string {
  const file = join(dir, 'http-options.js');
  writeFileSync(
    file,
    `import { check } from 'k6';
import http from 'k6/http';
const UA = __ENV.UA;
export const options = {
  iterations: 1,
  discardResponseBodies: true,
  userAgent: UA,
  thresholds: { checks: ['rate==1'] },
};
export default async function () {
  const discarded = await http.asyncRequest('GET', __ENV.TARGET + '/echo');
  check(discarded, {
    'discardResponseBodies: no body': (r) => r.body === null,
    'discardResponseBodies: the status still': (r) => r.status === 200,
  });
  const kept = await http.asyncRequest('GET', __ENV.TARGET + '/echo', null, { responseType: 'text' });
  check(kept, {
    "a request's responseType keeps its body": (r) => typeof r.body === 'string',
    'options.userAgent on every request': (r) => UA === undefined || r.json('userAgent') === UA,
  });
  const own = await http.asyncRequest('GET', __ENV.TARGET + '/echo', null, {
    responseType: 'text',
    headers: { 'User-Agent': 'own/1' },
  });
  check(own, { "a request's own User-Agent over the option": (r) => r.json('userAgent') === 'own/1' });
}
`,
  );
  return file;
}

/**
 * Against test-fixtures/connections.ts's server, which counts connections: two VUs of three
 * iterations, each of two requests. `-e REUSE=none|vu|all` sets noConnectionReuse (a connection
 * per request: 12), noVUConnectionReuse (one per iteration: 6), or neither (one per VU: 2).
 */
export const CONNECTIONS_BY_REUSE = { all: 2, vu: 6, none: 12 } as const;

export function connectionReuseScript(dir: string): string {
  const file = join(dir, 'connection-reuse.js');
  writeFileSync(
    file,
    `import http from 'k6/http';
export const options = {
  scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } },
  noConnectionReuse: __ENV.REUSE === 'none',
  noVUConnectionReuse: __ENV.REUSE === 'vu',
};
export default async function () {
  await http.asyncRequest('GET', __ENV.TARGET + '/a');
  await http.asyncRequest('GET', __ENV.TARGET + '/b');
}
`,
  );
  return file;
}

/**
 * minIterationDuration: two VUs for 1.5 s, an iteration a request, each at least 1 s: two
 * iterations a VU (at 0 and 1 s), each recorded as it took, not as it waited. k6 v0.47 ran the
 * same shape for 3.0 s at 2 s and 1.5 s: the last wait outlasts the duration.
 */
export function minIterationScript(dir: string): string {
  const file = join(dir, 'min-iteration.js');
  writeFileSync(
    file,
    `import http from 'k6/http';
export const options = {
  vus: 2,
  duration: '1500ms',
  minIterationDuration: '1s',
  thresholds: { iterations: ['count==4'], iteration_duration: ['max<900'] },
};
export default async function () {
  await http.asyncRequest('GET', __ENV.TARGET + '/echo');
}
`,
  );
  return file;
}
