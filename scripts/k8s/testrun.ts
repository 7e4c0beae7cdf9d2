import { basename } from 'node:path';
import type { Replay } from '../../model/replay.ts';

/**
 * What k6-operator needs to run a scenario on a cluster: a ConfigMap (or a volume) with the bundle
 * and the files it open()s, and a TestRun (k6.io/v1alpha1) whose runner pods split the load. Pure:
 * the command reads the files and writes the YAML.
 */

/** What one k6 runner pod carries, as measured with real k6 (bench/README.md, the k6 rows). */
export interface PodCapacity {
  /** VUs a pod holds: memory is what runs out first for the replaying scenarios */
  vus: number;
  /** HTTP requests per second a pod sends */
  requestsPerSecond: number;
}

/**
 * Requests a registrant sends at most on the way through the funnel: the eight steps and the
 * mailbox polls of the email wait (bench/README.md, "a full journey"). An upper bound: most leave
 * before the end.
 */
export const REQUESTS_PER_REGISTRANT = 11;

/** A ConfigMap holds at most 1 MiB; what is over goes to a volume the user fills. */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

/** Peak RSS of real k6 per VU of registration-day and the base of a k6 process (bench/README.md). */
const MIB_PER_VU = 0.3;
const BASE_MIB = 512;

export interface ScriptFile {
  /** the name the bundle open()s it by, relative to the bundle */
  name: string;
  bytes: Uint8Array;
}

export interface TestRunInput {
  name: string;
  namespace: string;
  /** the bundle (dist/k6/<scenario>.js) and the files it opens, flattened into one directory */
  bundle: ScriptFile;
  files: readonly ScriptFile[];
  replay: Pick<Replay, 'peakPerSecond' | 'scenario'>;
  pod: PodCapacity;
  /** the scenario's knobs, as -e would give them */
  env: Record<string, string>;
  /** the user's Prometheus remote-write endpoint, and the testid tag that tells this run apart */
  prometheusRemoteWrite?: string;
  testId: string;
  image?: string;
}

export interface Plan {
  parallelism: number;
  /** what decided it */
  boundBy: 'vus' | 'requests';
  vusPerPod: number;
  requestsPerSecondPerPod: number;
  memoryMiBPerPod: number;
  storage: 'configmap' | 'volume';
  bytes: number;
}

type Manifest = Record<string, unknown>;

/**
 * Pods enough for both the VUs and the request rate. k6-operator gives pod i the execution segment
 * i/n:(i+1)/n, and k6 splits an arrival-rate scenario's iterations and its VUs by segment, so each
 * pod starts 1/n of the arrivals; a pod must get at least one pre-allocated VU for that to hold.
 */
export function plan(input: TestRunInput): Plan {
  const { maxVUs, preAllocatedVUs } = input.replay.scenario;
  const requests = input.replay.peakPerSecond * REQUESTS_PER_REGISTRANT;
  const byVus = Math.ceil(maxVUs / input.pod.vus);
  const byRequests = Math.ceil(requests / input.pod.requestsPerSecond);
  const parallelism = Math.max(1, byVus, byRequests);
  if (parallelism > preAllocatedVUs) {
    throw new Error(
      `${parallelism} pods for ${preAllocatedVUs} pre-allocated VUs: each pod needs at least one; raise the scale or the per-pod capacity`,
    );
  }
  const vusPerPod = Math.ceil(maxVUs / parallelism);
  const bytes = [input.bundle, ...input.files].reduce((a, f) => a + f.name.length + base64Length(f), 0);
  return {
    parallelism,
    boundBy: byVus >= byRequests ? 'vus' : 'requests',
    vusPerPod,
    requestsPerSecondPerPod: requests / parallelism,
    memoryMiBPerPod: Math.ceil(BASE_MIB + vusPerPod * MIB_PER_VU),
    storage: bytes <= CONFIGMAP_LIMIT_BYTES ? 'configmap' : 'volume',
    bytes,
  };
}

/** Text files are stored as they are, binary ones base64-encoded (binaryData). */
function isText(f: ScriptFile): boolean {
  return /\.(js|csv|json|txt)$/.test(f.name);
}

function base64Length(f: ScriptFile): number {
  return isText(f) ? f.bytes.length : Math.ceil(f.bytes.length / 3) * 4;
}

export function manifests(input: TestRunInput, p: Plan = plan(input)): Manifest[] {
  const scriptName = basename(input.bundle.name);
  const labels = { 'app.kubernetes.io/name': 'gelombang', 'gelombang/testid': input.testId };
  const out: Manifest[] = [];
  let script: Manifest;
  if (p.storage === 'configmap') {
    const data: Record<string, string> = {};
    const binaryData: Record<string, string> = {};
    for (const f of [input.bundle, ...input.files]) {
      if (isText(f)) data[f.name] = Buffer.from(f.bytes).toString('utf8');
      else binaryData[f.name] = Buffer.from(f.bytes).toString('base64');
    }
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: input.name, namespace: input.namespace, labels },
      data,
      ...(Object.keys(binaryData).length ? { binaryData } : {}),
    });
    script = { configMap: { name: input.name, file: scriptName } };
  } else {
    // Over a ConfigMap's limit: the user copies the directory into this claim (see the command's output).
    script = { volumeClaim: { name: input.name, file: scriptName, readOnly: true } };
  }
  const env = Object.entries(input.env).map(([name, value]) => ({ name, value }));
  const args = [`--tag testid=${input.testId}`];
  if (input.prometheusRemoteWrite) {
    args.unshift('-o experimental-prometheus-rw');
    env.push(
      { name: 'K6_PROMETHEUS_RW_SERVER_URL', value: input.prometheusRemoteWrite },
      // The per-step percentiles gelombang record reads; k6 sends only avg/min/max/p90/p95 by default.
      { name: 'K6_PROMETHEUS_RW_TREND_STATS', value: 'med,p(90),p(95),p(99),max' },
    );
  }
  out.push({
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      parallelism: p.parallelism,
      script,
      arguments: args.join(' '),
      runner: {
        ...(input.image ? { image: input.image } : {}),
        env,
        metadata: { labels },
        resources: {
          requests: { cpu: '1', memory: `${p.memoryMiBPerPod}Mi` },
          limits: { memory: `${p.memoryMiBPerPod}Mi` },
        },
      },
    },
  });
  return out;
}
