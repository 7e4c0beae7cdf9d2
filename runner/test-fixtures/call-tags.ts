import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What k6 records when a VU's call of the script ends, and the tags a VU carries, as thresholds
 * that hold only if both are k6's (a probe on k6 v0.47, 2026-12-07): data_sent and data_received
 * on the VU's tags, not the request's; setup() and teardown() run in groups '::setup' and
 * '::teardown' with no scenario; exec.vu.tags holds the test's tags, the scenario and the group;
 * exec.scenario throws in setup(). What thresholds cannot count (a trend's samples, a counter's)
 * `callSamples` counts in the run's JSON output: one data_sent, data_received and
 * iteration_duration a call of the script (setup and teardown too), zero bytes included, and no
 * iteration for setup or teardown. runner/runner.test.ts runs it on the runner,
 * test/real-k6.test.ts on k6: exit 0 and the same counts on both.
 * `TARGET` answers 200 on /echo.
 */
export function callTagsScript(dir: string): string {
  const file = join(dir, 'call-tags.js');
  writeFileSync(
    file,
    `import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const mine = new Counter('mine');
export const options = {
  iterations: 3,
  vus: 1,
  tags: { testid: 'calls' },
  thresholds: {
    checks: ['rate==1'],
    'checks{group:::setup}': ['rate==1'],
    'mine{group:::setup,testid:calls}': ['count==1'],
    'mine{scenario:default,testid:calls}': ['count==3'],
    'http_reqs{group:::setup,testid:calls}': ['count==1'],
    'http_reqs{scenario:default,testid:calls}': ['count==2'],
    // a counter's count is its sum: the bytes, all on the VU's tags, none on a request's
    'data_sent{group:::setup,testid:calls}': ['count>0'],
    'data_received{scenario:default,testid:calls}': ['count>0'],
    'data_sent{method:GET}': ['count==0'],
    'data_received{status:200}': ['count==0'],
    iterations: ['count==3'],
  },
};
export async function setup() {
  await http.asyncRequest('GET', __ENV.TARGET + '/echo');
  mine.add(1);
  let refused = '';
  try {
    exec.scenario.name;
  } catch (e) {
    refused = String(e.message || e);
  }
  check(exec.vu.tags, {
    'setup: the VU carries the test tags and the setup group, no scenario': (t) =>
      t.testid === 'calls' && t.group === '::setup' && t.scenario === undefined,
    'setup: exec.scenario refused as k6 does': () =>
      refused === 'getting scenario information outside of the VU context is not supported',
  });
}
export default async function () {
  // two iterations with a request each and one without
  if (exec.scenario.iterationInTest < 2) await http.asyncRequest('GET', __ENV.TARGET + '/echo');
  mine.add(1);
  check(exec.vu.tags, {
    'iteration: the VU carries the test tags, the scenario and group ""': (t) =>
      t.testid === 'calls' && t.scenario === 'default' && t.group === '',
  });
}
export function teardown() {}
`,
  );
  return file;
}

/** What `callTagsScript` must record, as `callSamples` counts it. */
export const CALL_SAMPLES = {
  data_sent: 5,
  data_received: 5,
  zeroBytesSent: 2,
  iteration_duration: 5,
  setupDurations: 1,
  teardownDurations: 1,
  iterations: 3,
};

/** Counts the samples of the run's JSON output (`--out json=FILE`, one object a line) that `CALL_SAMPLES` names. */
export function callSamples(jsonLines: string): typeof CALL_SAMPLES {
  const points = jsonLines
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          metric: string;
          data: { value: number; tags?: Record<string, string> };
        },
    )
    .filter((p) => p.type === 'Point');
  const of = (metric: string, also: (p: (typeof points)[number]) => boolean = () => true) =>
    points.filter((p) => p.metric === metric && also(p)).length;
  return {
    data_sent: of('data_sent'),
    data_received: of('data_received'),
    zeroBytesSent: of('data_sent', (p) => p.data.value === 0),
    iteration_duration: of('iteration_duration'),
    setupDurations: of('iteration_duration', (p) => p.data.tags?.group === '::setup'),
    teardownDurations: of('iteration_duration', (p) => p.data.tags?.group === '::teardown'),
    iterations: of('iterations'),
  };
}

/** Where `callTagsScript`'s checks are listed: at the root and in the groups k6 makes of setup() and teardown(). */
export const CALL_GROUPS = {
  root: ['iteration: the VU carries the test tags, the scenario and group ""'],
  setup: [
    'setup: the VU carries the test tags and the setup group, no scenario',
    'setup: exec.scenario refused as k6 does',
  ],
  teardown: [],
};

/** The check names by group of a legacy summary export (`--summary-export`). */
export function callGroups(legacy: {
  root_group: { checks: object; groups: Record<string, { checks: object }> };
}): Record<string, string[]> {
  const out: Record<string, string[]> = { root: Object.keys(legacy.root_group.checks) };
  for (const [name, g] of Object.entries(legacy.root_group.groups)) out[name] = Object.keys(g.checks);
  return out;
}
