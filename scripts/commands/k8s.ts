import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import { parseProfileCsv } from '../../model/profile.ts';
import { REPLAY_DEFAULTS, replay } from '../../model/replay.ts';
import { validateAgainstCrd } from '../k8s/crd.ts';
import { manifests, type PodCapacity, plan } from '../k8s/testrun.ts';
import { ROOT } from '../paths.ts';
import { replayProblem } from '../rehearsal.ts';
import { bundleScenarios } from './bundle.ts';
import {
  existingFile,
  httpUrl,
  keyValue,
  numberIn,
  outputDir,
  profileWindow,
  wholeNumberIn,
} from './flags.ts';

/**
 * `gelombang k8s`: what k6-operator needs to run a replaying scenario on a cluster, for a chosen
 * peak: the bundle and its files in a ConfigMap (or a volume, past a ConfigMap's 1 MiB), and a
 * TestRun whose parallelism comes from a stated per-pod capacity. Writes files; sends nothing.
 */

// The replay arithmetic here is registration-day's; the other scenarios size themselves differently.
const SCENARIOS = ['registration-day'] as const;
const DAY_PEAK_PER_MINUTE = 80_000;

/**
 * What one real k6 pod carries by default: bench/README.md's k6 rows (real k6 v0.47 on this
 * machine kind: about 5,000 requests/s on 2 cores, 0.3 MiB per registration-day VU). Stated here so
 * a user with other pods says so with --pod-vus and --pod-rps.
 */
const DEFAULT_POD: PodCapacity = { vus: 2000, requestsPerSecond: 4000 };

/** `--peak 80000/min` or `1333/s`: arrivals per minute at the replay's busiest moment, real time. */
function peakFlag(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\/(min|s)$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0)
    throw new InvalidArgumentError(
      `--peak: expected arrivals per minute or second such as 80000/min or 1333/s, got '${v}'`,
    );
  return Number(m[1]) * (m[2] === 's' ? 60 : 1);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
function dnsLabel(flag: string) {
  return (v: string): string => {
    if (!DNS_LABEL.test(v))
      throw new InvalidArgumentError(
        `${flag}: expected a Kubernetes name (lower-case letters, digits and '-', at most 63), got '${v}'`,
      );
    return v;
  };
}

interface K8sFlags {
  scenario: (typeof SCENARIOS)[number];
  target: string;
  emailUrl?: string;
  peak?: number;
  scale?: number;
  compress: number;
  window?: [number, number];
  name: string;
  namespace: string;
  testid?: string;
  podVus: number;
  podRps: number;
  prometheusRw?: string;
  image?: string;
  env: Record<string, string>;
  out: string;
  crd?: string;
}

export function k8sCommand(): Command {
  const command = new Command('k8s');
  // A problem found once the flags are read together: commander's own message and exit code 2.
  const refuse = (message: string): never => command.error(`error: ${message}`, { exitCode: 2 });
  // Every bad flag exits 2 too, as the other commands' do (commander's own default is 1).
  return command
    .description(
      "write k6-operator's TestRun and ConfigMap for a replaying scenario at a chosen peak (nothing is sent)",
    )
    .addOption(new Option('--scenario <name>', 'the scenario').choices(SCENARIOS).default('registration-day'))
    .requiredOption(
      '--target <url>',
      "the registration service's base URL, as the k6 pods reach it",
      httpUrl('--target'),
    )
    .option('--email-url <url>', "the email service's HTTP API, as the pods reach it", httpUrl('--email-url'))
    .option(
      '--peak <rate>',
      "the busiest minute's arrivals, real time (80000/min: the 2020 peak at full size)",
      peakFlag,
    )
    .option(
      '--scale <share>',
      `share of the registrants (instead of --peak; default ${REPLAY_DEFAULTS.scale})`,
      numberIn('--scale', 0, 1, true),
    )
    .option('--compress <factor>', 'time factor of the replay', numberIn('--compress', 1, 100_000), 1)
    .option('--window <from-to>', 'profile minutes to replay, e.g. 0-120', profileWindow('--window'))
    .option('--name <name>', 'the TestRun and ConfigMap name', dnsLabel('--name'), 'gelombang')
    .option('--namespace <ns>', 'their namespace', dnsLabel('--namespace'), 'default')
    .option('--testid <id>', 'the testid tag on every sample (default: the name and the time)')
    .option(
      '--pod-vus <n>',
      `VUs one runner pod holds (default ${DEFAULT_POD.vus})`,
      wholeNumberIn('--pod-vus', 1),
      DEFAULT_POD.vus,
    )
    .option(
      '--pod-rps <n>',
      `requests/s one runner pod sends (default ${DEFAULT_POD.requestsPerSecond})`,
      wholeNumberIn('--pod-rps', 1),
      DEFAULT_POD.requestsPerSecond,
    )
    .option(
      '--prometheus-rw <url>',
      "your Prometheus's remote-write endpoint (k6's experimental-prometheus-rw)",
      httpUrl('--prometheus-rw'),
    )
    .option('--image <image>', "the k6 runner image (default: k6-operator's)")
    .option('-e, --env <KEY=VALUE>', 'a scenario knob (repeatable)', keyValue('-e', 'env'), {})
    .option('--out <dir>', 'where the manifests go', outputDir('--out'), 'k8s')
    .option(
      '--crd <file>',
      "k6-operator's TestRun CRD (k6.io_testruns.yaml) to validate the manifest against",
      existingFile('--crd'),
    )
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (o: K8sFlags) => {
      const profilePath = join(ROOT, 'scenarios/profiles/registration-day-2020.csv');
      const profile = parseProfileCsv(readFileSync(profilePath, 'utf8'), profilePath);
      if (o.peak !== undefined && o.scale !== undefined) refuse('--peak and --scale: give one, not both');
      // A profile minute lasts 60/compress seconds of the run: the run's busiest minute is
      // 80,000 x scale x compress arrivals.
      const scale =
        o.peak !== undefined
          ? o.peak / (DAY_PEAK_PER_MINUTE * o.compress)
          : (o.scale ?? REPLAY_DEFAULTS.scale);
      const window = o.window ? { fromMinute: o.window[0], toMinute: o.window[1] } : undefined;
      const problem = replayProblem(
        { scenario: o.scenario, scale, compress: o.compress, ...(o.window ? { window: o.window } : {}) },
        {
          profile: 'the 2020 profile',
          scale: o.peak !== undefined ? '--peak' : '--scale',
          compress: '--compress',
          window: '--window',
        },
      );
      if (problem) refuse(problem);
      const r = replay(profile, { scale, compress: o.compress, ...(window ? { window } : {}) });

      const dir = resolve(o.out);
      const [bundled] = await bundleScenarios(
        [join(ROOT, `scenarios/${o.scenario}.ts`)],
        join(dir, 'bundle'),
      );
      const bundlePath = (bundled as { out: string }).out;
      const photo = 'ktp-medium.jpg';
      const testId =
        o.testid ?? `${o.name}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase()}`;
      const input = {
        name: o.name,
        namespace: o.namespace,
        bundle: { name: basename(bundlePath), bytes: readFileSync(bundlePath) },
        // flat: a ConfigMap's keys are file names, not paths
        files: [
          { name: basename(profilePath), bytes: readFileSync(profilePath) },
          { name: photo, bytes: readFileSync(join(ROOT, 'scenarios/fixtures', photo)) },
        ],
        replay: r,
        pod: { vus: o.podVus, requestsPerSecond: o.podRps },
        env: {
          BASE_URL: o.target,
          ...(o.emailUrl ? { EMAIL_URL: o.emailUrl } : {}),
          SCALE: String(scale),
          COMPRESS: String(o.compress),
          ...(window ? { WINDOW_FROM: String(window.fromMinute), WINDOW_TO: String(window.toMinute) } : {}),
          PROFILE: `./${basename(profilePath)}`,
          PHOTO: `./${photo}`,
          ...o.env,
        },
        testId,
        ...(o.prometheusRw ? { prometheusRemoteWrite: o.prometheusRw } : {}),
        ...(o.image ? { image: o.image } : {}),
      };
      const p = plan(input);
      const docs = manifests(input, p);
      if (o.crd) {
        const testRun = docs.find((d) => d.kind === 'TestRun');
        const errors = validateAgainstCrd(testRun, readFileSync(o.crd, 'utf8'));
        if (errors.length)
          throw new InvalidArgumentError(`the TestRun does not match ${o.crd}: ${errors.join('; ')}`);
      }
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'testrun.yaml');
      writeFileSync(file, docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
      const lines = [
        `wrote ${file}: ${p.parallelism} runner pods (bound by ${p.boundBy === 'vus' ? 'VUs' : 'requests/s'}), ` +
          `${p.vusPerPod} VUs and ${Math.round(p.requestsPerSecondPerPod)} requests/s at most each, ${p.memoryMiBPerPod} MiB`,
        `replay: scale ${scale}, compress ${o.compress}: ${Math.round(r.total)} registrants, peak ${r.peakPerSecond.toFixed(1)}/s, ${r.scenario.maxVUs} VUs at most`,
        `testid ${testId}: gelombang record --select testid=${testId} reads the run back from your Prometheus`,
      ];
      if (p.storage === 'volume') {
        lines.push(
          `the bundle and its files are ${p.bytes} bytes, over a ConfigMap's 1 MiB: copy ${join(dir, 'bundle')}/${o.scenario}.js, ` +
            `${basename(profilePath)} and ${photo} into the PersistentVolumeClaim '${o.name}' (flat, one directory)`,
        );
      } else lines.push(`kubectl apply -f ${file}`);
      console.log(lines.join('\n'));
    });
}
