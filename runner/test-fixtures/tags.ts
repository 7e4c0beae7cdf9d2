import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The tags k6 puts on samples, as thresholds on submetrics that hold only if the tags are k6's:
 * options.tags on every sample, or the command line's --tag in their place (k6 v0.47 does not
 * merge the two: lib/options.go Apply), a named request's url tag the name, a failed one's error
 * code. runner/runner.test.ts runs it on the runner,
 * test/real-k6.test.ts on k6: exit 0 on both, or a threshold names the tag that differs.
 * `TARGET` answers 200 on /echo; port 1 on loopback refuses.
 */
export function taggedScript(dir: string): string {
  const file = join(dir, 'tagged.js');
  writeFileSync(
    file,
    `import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
const mine = new Counter('mine');
const TESTID = __ENV.EXPECT_TESTID || 'from-options';
const TEAM = __ENV.EXPECT_TEAM || 'sre';
export const options = {
  iterations: 1,
  tags: { testid: 'from-options', team: 'sre' },
  thresholds: {
    checks: ['rate==1'],
    ['mine{testid:' + TESTID + '}']: ['count==2'],
    ['http_reqs{testid:' + TESTID + ',url:named,name:named}']: ['count==1'],
    ['http_reqs{testid:' + TESTID + ',error_code:1212,status:0}']: ['count==1'],
  },
};
export default async function () {
  await http.asyncRequest('GET', __ENV.TARGET + '/echo', null, { tags: { name: 'named' } });
  await http.asyncRequest('GET', 'http://127.0.0.1:1/refused');
  mine.add(2);
  check(exec.vu.tags, { ['team tag ' + TEAM]: (t) => (t.team || 'none') === TEAM });
}
`,
  );
  return file;
}
