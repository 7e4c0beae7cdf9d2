import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * k6's noSetup, noTeardown and throw, for runner/modules/http-options.test.ts and
 * test/real-k6.test.ts: setup() and teardown() are not run (their counters stay at 0, and the
 * iteration gets no setup data), a request to a port nothing listens on rejects, and one to a URL
 * that is not one rejects before any request is counted (http_reqs: 1). Plain JavaScript for k6.
 */
export function noSetupThrowScript(dir: string): string {
  const file = join(dir, 'no-setup-throw.js');
  writeFileSync(
    file,
    `import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
const setupRan = new Counter('setup_ran');
const teardownRan = new Counter('teardown_ran');
export const options = {
  iterations: 1,
  noSetup: true,
  noTeardown: true,
  throw: true,
  thresholds: {
    checks: ['rate==1'],
    setup_ran: ['count==0'],
    teardown_ran: ['count==0'],
    http_reqs: ['count==1'],
  },
};
export function setup() {
  setupRan.add(1);
  return { from: 'setup' };
}
export default async function (data) {
  check(data, { 'no setup data': (d) => d === undefined });
  let refused = '';
  try {
    await http.asyncRequest('GET', 'http://127.0.0.1:1/x');
  } catch (e) {
    refused = String(e);
  }
  check(refused, { 'a refused request throws, its text the method and URL': (t) => t.indexOf('Get "http://127.0.0.1:1/x": ') === 0 });
  let invalid = false;
  try {
    await http.asyncRequest('GET', 'http://127.0.0.1:port/');
  } catch (e) {
    invalid = true;
  }
  check(invalid, { 'a URL that is not one throws': (t) => t });
}
export function teardown() {
  teardownRan.add(1);
}
`,
  );
  return file;
}
