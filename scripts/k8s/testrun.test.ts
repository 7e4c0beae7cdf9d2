import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseProfileCsv } from '../../model/profile.ts';
import { replay } from '../../model/replay.ts';
import { validateAgainstCrd } from './crd.ts';
import {
  CONFIGMAP_LIMIT_BYTES,
  manifests,
  plan,
  REQUESTS_PER_REGISTRANT,
  type TestRunInput,
} from './testrun.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface Doc {
  kind: string;
  apiVersion: string;
  data: Record<string, string>;
  binaryData: Record<string, string>;
  spec: {
    script: unknown;
    arguments: string;
    runner: { env: Array<{ name: string; value: string }>; resources: { limits: { memory: string } } };
  };
}
const profile = parseProfileCsv(
  readFileSync(join(ROOT, 'scenarios/profiles/registration-day-2020.csv'), 'utf8'),
  'registration-day-2020.csv',
);

function input(o: Partial<TestRunInput> & { scale?: number } = {}): TestRunInput {
  const r = replay(profile, {
    scale: o.scale ?? 0.01,
    compress: 60,
    window: { fromMinute: 0, toMinute: 60 },
  });
  return {
    name: 'wave',
    namespace: 'load',
    bundle: {
      name: 'registration-day.js',
      bytes: new TextEncoder().encode('export default async function () {}'),
    },
    files: [{ name: 'ktp-medium.jpg', bytes: new Uint8Array(3000) }],
    replay: r,
    pod: { vus: 500, requestsPerSecond: 4000 },
    env: { BASE_URL: 'http://registration:3000', SCALE: '0.01' },
    testId: 'wave-1',
    ...o,
  };
}

describe('k6-operator manifests', () => {
  it('gives enough pods for the VUs and for the requests, whichever needs more', () => {
    const i = input();
    const byVus = Math.ceil(i.replay.scenario.maxVUs / 500);
    const p = plan(i);
    expect(p.parallelism).toBe(
      Math.max(byVus, Math.ceil((i.replay.peakPerSecond * REQUESTS_PER_REGISTRANT) / 4000)),
    );
    expect(p.boundBy).toBe('vus');
    expect(p.vusPerPod * p.parallelism).toBeGreaterThanOrEqual(i.replay.scenario.maxVUs);

    const slowPods = plan(input({ pod: { vus: 1_000_000, requestsPerSecond: 10 } }));
    expect(slowPods.boundBy).toBe('requests');
    expect(slowPods.requestsPerSecondPerPod).toBeLessThanOrEqual(10);
  });

  it('refuses more pods than pre-allocated VUs: k6 splits the VUs by execution segment too', () => {
    expect(() => plan(input({ scale: 0.00001, pod: { vus: 1, requestsPerSecond: 1 } }))).toThrow(
      /each pod needs at least one/,
    );
  });

  it('puts the bundle and its files in a ConfigMap, binary ones base64-encoded, and the rest in the TestRun', () => {
    const docs = manifests(input());
    const [cm, tr] = docs as unknown as [Doc, Doc];
    expect(cm.kind).toBe('ConfigMap');
    expect(Object.keys(cm.data)).toEqual(['registration-day.js']);
    expect(Buffer.from(cm.binaryData['ktp-medium.jpg'] ?? '', 'base64')).toHaveLength(3000);
    expect(tr.apiVersion).toBe('k6.io/v1alpha1');
    expect(tr.spec.script).toEqual({ configMap: { name: 'wave', file: 'registration-day.js' } });
    expect(tr.spec.arguments).toBe('--tag testid=wave-1');
    expect(tr.spec.runner.env).toContainEqual({ name: 'SCALE', value: '0.01' });
    expect(tr.spec.runner.resources.limits.memory).toMatch(/^\d+Mi$/);
  });

  it('writes to Prometheus with the testid tag and the percentiles gelombang record reads', () => {
    const [, tr] = manifests(
      input({ prometheusRemoteWrite: 'http://prometheus:9090/api/v1/write' }),
    ) as unknown as [Doc, Doc];
    expect(tr.spec.arguments).toBe('-o experimental-prometheus-rw --tag testid=wave-1');
    expect(tr.spec.runner.env).toContainEqual({
      name: 'K6_PROMETHEUS_RW_SERVER_URL',
      value: 'http://prometheus:9090/api/v1/write',
    });
    expect(tr.spec.runner.env).toContainEqual({
      name: 'K6_PROMETHEUS_RW_TREND_STATS',
      value: 'med,p(90),p(95),p(99),max',
    });
  });

  it("past a ConfigMap's 1 MiB, names a volume claim instead and writes no ConfigMap", () => {
    const big = input({ files: [{ name: 'ktp-large.jpg', bytes: new Uint8Array(CONFIGMAP_LIMIT_BYTES) }] });
    const p = plan(big);
    expect(p.storage).toBe('volume');
    const docs = manifests(big, p) as unknown as Doc[];
    expect(docs.map((d) => d.kind)).toEqual(['TestRun']);
    expect(docs[0]?.spec.script).toEqual({
      volumeClaim: { name: 'wave', file: 'registration-day.js', readOnly: true },
    });
  });
});

describe('validation against a CRD', () => {
  const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  versions:
  - name: v1alpha1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: { type: string }
          kind: { type: string }
          metadata: { type: object }
          spec:
            type: object
            required: [parallelism, script]
            properties:
              parallelism: { type: integer, format: int32 }
              script: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;
  const ok = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: { name: 'x' },
    spec: { parallelism: 2, script: {} },
  };

  it('admits what the schema allows, and refuses a wrong type, a missing field and a misspelt one', () => {
    expect(validateAgainstCrd(ok, crd)).toEqual([]);
    expect(validateAgainstCrd({ ...ok, spec: { ...ok.spec, parallelism: 'two' } }, crd)).toEqual([
      '/spec/parallelism: must be integer',
    ]);
    expect(validateAgainstCrd({ ...ok, spec: { script: {} } }, crd).join()).toMatch(/parallelism/);
    // The API server would prune it silently; kubectl --validate=strict refuses it, and so do we.
    expect(validateAgainstCrd({ ...ok, spec: { ...ok.spec, paralelism: 2 } }, crd)).toEqual([
      '/spec: must NOT have additional properties',
    ]);
    expect(validateAgainstCrd({ ...ok, apiVersion: 'k6.io/v9' }, crd)).toEqual([
      'no schema for k6.io/v9 in the CRD',
    ]);
  });

  // k6-operator's own CRD is its to version: read where the user (or the team's shared folder) keeps it.
  const realCrd = [process.env.K6_OPERATOR_CRD, join(ROOT, '../shared/k6-operator/k6.io_testruns.yaml')].find(
    (p) => p && existsSync(p),
  );
  if (!realCrd)
    console.warn(
      "scripts/k8s: k6-operator's CRD not found; set K6_OPERATOR_CRD to config/crd/bases/k6.io_testruns.yaml of grafana/k6-operator to validate against it",
    );
  it.skipIf(!realCrd)(
    "the TestRun gelombang k8s writes is valid under k6-operator's own CRD",
    () => {
      const out = mkdtempSync(join(tmpdir(), 'gelombang-k8s-'));
      const r = spawnSync(
        process.execPath,
        [
          join(ROOT, 'bin/gelombang.js'),
          'k8s',
          '--target',
          'http://registration:3000',
          '--peak',
          '8000/min',
          '--out',
          out,
          '--crd',
          realCrd as string,
        ],
        { encoding: 'utf8', cwd: ROOT },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const docs = parseAllDocuments(readFileSync(join(out, 'testrun.yaml'), 'utf8')).map((d) => d.toJS());
      const testRun = docs.find((d) => d.kind === 'TestRun');
      expect(validateAgainstCrd(testRun, readFileSync(realCrd as string, 'utf8'))).toEqual([]);
      expect(
        validateAgainstCrd(
          { ...testRun, spec: { ...testRun.spec, paralelism: 1 } },
          readFileSync(realCrd as string, 'utf8'),
        ),
      ).not.toEqual([]);
    },
    60_000,
  );
});

describe('gelombang k8s refuses bad input before writing anything', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--peak', '80000'], /--peak: expected arrivals per minute or second such as 80000\/min/],
    [['--peak', '80000/min', '--scale', '0.1'], /--peak and --scale: give one, not both/],
    [['--name', 'Wave_1'], /--name: expected a Kubernetes name/],
    [['--pod-vus', '0'], /--pod-vus: expected a whole number >= 1/],
    [['--compress', '7000'], /--compress: .*whole milliseconds/],
    [['--target', 'ftp://x'], /--target: expected an http\(s\) URL/],
  ];
  for (const [args, message] of cases) {
    it(args.join(' '), () => {
      const out = join(mkdtempSync(join(tmpdir(), 'gelombang-k8s-')), 'out');
      const base = args.includes('--target') ? [] : ['--target', 'http://registration:3000'];
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'bin/gelombang.js'), 'k8s', ...base, ...args, '--out', out],
        {
          encoding: 'utf8',
          cwd: ROOT,
        },
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(out)).toBe(false);
    });
  }
});
