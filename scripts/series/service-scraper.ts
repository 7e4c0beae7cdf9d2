import { leMs, type SeriesName, SMTP_POOL } from '../../reports/record.ts';
import type { SeriesBook } from './series-book.ts';

/**
 * Reads the services' /metrics (Prometheus text) at each tick, for a run record made without a
 * Prometheus server: per dependency, busy servers over capacity, queue fill, refusals per second
 * (and the registration service's SMTP connections in use over its pool, as SMTP_POOL),
 * and the service times ended in the interval (station_service_seconds, by bucket, and their mean);
 * per scrypt operation of the registration service, the hashes' times the same way
 * (gelombang_password_hash_duration_seconds), and per dependency its calls as it timed them
 * (gelombang_dependency_request_duration_seconds, its outcomes added up); per process, the CPU it
 * used and its event-loop delay.
 * A scrape that fails or is late leaves nulls for that tick; it never stops the rehearsal.
 */

type Sample = { name: string; labels: Record<string, string>; value: number };
/** a histogram's cumulative counts by le (seconds, as exposed), its sum and its count */
type Histogram = { buckets: Map<string, number>; sum: number; count: number };

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text exposition whose names are in `wanted`. */
export function parseExposition(text: string, wanted: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m || !wanted.has(m[1] as string)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

const WANTED = new Set([
  'station_in_flight',
  'station_capacity',
  'station_queue_depth',
  'station_queue_capacity',
  'station_rejections_total',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_p99_seconds',
  'station_service_seconds_bucket',
  'station_service_seconds_sum',
  'station_service_seconds_count',
  'gelombang_password_hash_duration_seconds_bucket',
  'gelombang_password_hash_duration_seconds_sum',
  'gelombang_password_hash_duration_seconds_count',
  'gelombang_dependency_request_duration_seconds_bucket',
  'gelombang_dependency_request_duration_seconds_sum',
  'gelombang_dependency_request_duration_seconds_count',
  'gelombang_email_connections',
  'gelombang_email_connections_busy',
]);

/**
 * The histograms kept per interval, scraped or queried from Prometheus: the exposed family, the
 * label that tells its histograms apart, and the record's series for its buckets and its mean.
 */
export const HISTOGRAMS = [
  {
    family: 'station_service_seconds',
    label: 'dependency',
    buckets: 'dependency_service_buckets',
    mean: 'dependency_service_ms',
  },
  {
    family: 'gelombang_password_hash_duration_seconds',
    label: 'operation',
    buckets: 'password_hash_buckets',
    mean: 'password_hash_ms',
  },
  {
    family: 'gelombang_dependency_request_duration_seconds',
    label: 'dependency',
    buckets: 'dependency_call_buckets',
    mean: 'dependency_call_ms',
  },
] as const satisfies ReadonlyArray<{ family: string; label: string; buckets: SeriesName; mean: SeriesName }>;

/**
 * A cumulative histogram's increase over an interval, by `le` (seconds, as exposed), turned into
 * each bucket's own count, with the bucket's bounds as the record's labels (ms): cumulative counts
 * differenced from the bucket below, in order of `le`.
 */
export function perBucket(cumulative: Map<string, number>): Array<{ gt: string; le: string; count: number }> {
  const bound = (le: string) => (le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le));
  const sorted = [...cumulative].sort(([a], [b]) => bound(a) - bound(b));
  let below = 0;
  let gt = '0';
  return sorted.map(([le, c]) => {
    const count = Math.max(0, c - below);
    below = Math.max(below, c);
    const bucket = { gt, le: leMs(le), count };
    gt = bucket.le;
    return bucket;
  });
}

/** A service whose /metrics is read: the process name goes into the process_* series' labels. */
export interface ScrapeTarget {
  process: string;
  url: string;
}

export class ServiceScraper {
  private prevRejections = new Map<string, number>();
  private rejections = new Map<string, number>();
  /** the highest utilisation and queue fill seen by the scrapes since the last sample */
  private peakBusy = new Map<string, number>();
  private peakQueue = new Map<string, number>();
  /**
   * per process: CPU seconds, and when they were read (ms, performance.now()), at the last scrape
   * and at the last sample; the highest loop lag since
   */
  private cpuNow = new Map<string, { cpu: number; at: number }>();
  private cpuBefore = new Map<string, { cpu: number; at: number }>();
  private peakLag = new Map<string, number>();
  /**
   * per histogram (its index in HISTOGRAMS and its label's value, e.g. a dependency): the cumulative
   * counts by le, the sum and the count, now and at the last sample
   */
  private histogramNow = new Map<string, Histogram>();
  private histogramBefore = new Map<string, Histogram>();
  /** targets scraped at least once */
  private scraped = new Set<string>();
  private pending: Promise<void> | undefined;

  constructor(
    private readonly book: SeriesBook,
    /** the services' /metrics endpoints */
    private readonly targets: ScrapeTarget[],
  ) {}

  /**
   * Starts a scrape unless one is under way. Called more often than `sample` so that an interval
   * keeps its peak, not only its last value: a saturation shorter than an interval still shows.
   */
  scrape(): void {
    if (this.pending) return;
    this.pending = Promise.all(
      this.targets.map(async ({ process, url }) => {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
          const samples = parseExposition(await res.text(), WANTED);
          this.absorbProcess(process, samples);
          this.absorbHistograms(process, samples);
          return samples;
        } catch {
          return []; // one service not answering must not blank the others
        }
      }),
    )
      .then((all) => this.absorb(all.flat()))
      .catch(() => {})
      .finally(() => {
        this.pending = undefined;
      });
  }

  async settle(): Promise<void> {
    await this.pending;
  }

  private absorbProcess(process: string, samples: Sample[]): void {
    const cpu = samples.find((x) => x.name === 'process_cpu_seconds_total');
    if (cpu) {
      const reading = { cpu: cpu.value, at: performance.now() };
      this.cpuNow.set(process, reading);
      if (!this.cpuBefore.has(process)) this.cpuBefore.set(process, reading);
    }
    const lag = samples.find((x) => x.name === 'nodejs_eventloop_lag_p99_seconds');
    if (lag && Number.isFinite(lag.value))
      this.peakLag.set(process, Math.max(this.peakLag.get(process) ?? 0, lag.value * 1000));
  }

  private absorb(samples: Sample[]): void {
    const by = (name: string) => {
      const m = new Map<string, number>();
      for (const s of samples)
        if (s.name === name && s.labels.dependency) m.set(s.labels.dependency, s.value);
      return m;
    };
    const inFlight = by('station_in_flight');
    const queue = by('station_queue_depth');
    const queueCapacity = by('station_queue_capacity');
    for (const [dependency, c] of by('station_capacity')) {
      const busy = inFlight.get(dependency);
      if (busy !== undefined && c > 0) {
        this.peakBusy.set(dependency, Math.max(this.peakBusy.get(dependency) ?? 0, busy / c));
      }
      const q = queue.get(dependency);
      const qc = queueCapacity.get(dependency);
      if (q !== undefined && qc)
        this.peakQueue.set(dependency, Math.max(this.peakQueue.get(dependency) ?? 0, q / qc));
    }
    // The service's SMTP pool, beside the dependencies: its connections can run out first.
    const pool = samples.find((s) => s.name === 'gelombang_email_connections')?.value;
    const poolBusy = samples.find((s) => s.name === 'gelombang_email_connections_busy')?.value;
    if (pool && poolBusy !== undefined)
      this.peakBusy.set(SMTP_POOL, Math.max(this.peakBusy.get(SMTP_POOL) ?? 0, poolBusy / pool));
    for (const s of samples) {
      if (s.name === 'station_rejections_total' && s.labels.dependency) {
        this.rejections.set(`${s.labels.dependency}\u0000${s.labels.reason ?? 'unknown'}`, s.value);
      }
    }
  }

  /**
   * The histograms of one target (HISTOGRAMS). A mock shows a dependency's histogram from its first
   * service on: one that appears after the target's first scrape counts from zero, one already there
   * at the first scrape from that scrape (what a reused stack served before is not the run's).
   */
  private absorbHistograms(process: string, samples: Sample[]): void {
    const first = !this.scraped.has(process);
    this.scraped.add(process);
    const seen = new Map<string, Histogram>();
    const of = (key: string) => {
      let h = seen.get(key);
      if (!h) {
        h = { buckets: new Map(), sum: 0, count: 0 };
        seen.set(key, h);
      }
      return h;
    };
    HISTOGRAMS.forEach(({ family, label }, i) => {
      for (const s of samples) {
        const value = s.labels[label];
        if (!value || !Number.isFinite(s.value) || !s.name.startsWith(family)) continue;
        // Histograms that differ in another label (a call's outcome) are added up.
        const key = `${i}\u0000${value}`;
        const h = of(key);
        if (s.name === `${family}_bucket` && s.labels.le !== undefined)
          h.buckets.set(s.labels.le, (h.buckets.get(s.labels.le) ?? 0) + s.value);
        else if (s.name === `${family}_sum`) h.sum += s.value;
        else if (s.name === `${family}_count`) h.count += s.value;
      }
    });
    for (const [key, h] of seen) {
      this.histogramNow.set(key, h);
      if (!this.histogramBefore.has(key))
        this.histogramBefore.set(key, first ? h : { buckets: new Map(), sum: 0, count: 0 });
    }
  }

  /** Writes the interval's peaks and refusal rates into the current tick, and starts over. */
  sample(seconds: number): void {
    for (const [dependency, v] of this.peakBusy) this.book.set('dependency_utilisation', { dependency }, v);
    for (const [dependency, v] of this.peakQueue) this.book.set('dependency_queue_ratio', { dependency }, v);
    this.peakBusy.clear();
    this.peakQueue.clear();
    for (const [process, now] of this.cpuNow) {
      // The first interval of a service counts from its first scrape, not from its start-up. Over
      // the time between the two readings, not the interval's nominal length: scrapes come when
      // they are answered, and a tick 0.8 s after the last one read a saturated CPU as 80 % busy,
      // which broke every sustained saturation on a busy machine. No new reading: null.
      const before = this.cpuBefore.get(process) ?? now;
      const span = (now.at - before.at) / 1000;
      // A counter that went down is a restarted process (a fault schedule's kill): unknown there.
      const used = now.cpu - before.cpu;
      this.book.set('process_cpu_cores', { process }, span > 0 && used >= 0 ? used / span : null);
      this.cpuBefore.set(process, now);
    }
    for (const [process, v] of this.peakLag) this.book.set('event_loop_lag_ms', { process }, v);
    this.peakLag.clear();
    for (const [key, now] of this.histogramNow) {
      const [index = '', value = ''] = key.split('\u0000');
      const { label, buckets, mean } = HISTOGRAMS[Number(index)] as (typeof HISTOGRAMS)[number];
      const before = this.histogramBefore.get(key) ?? now;
      this.histogramBefore.set(key, now);
      const count = now.count - before.count;
      this.book.set(mean, { [label]: value }, count > 0 ? ((now.sum - before.sum) / count) * 1000 : null);
      const increase = new Map([...now.buckets].map(([le, c]) => [le, c - (before.buckets.get(le) ?? 0)]));
      for (const b of perBucket(increase))
        if (b.count > 0) this.book.set(buckets, { [label]: value, gt: b.gt, le: b.le }, b.count / seconds);
    }
    for (const [key, total] of this.rejections) {
      const [dependency = '', reason = ''] = key.split('\u0000');
      const before = this.prevRejections.get(key) ?? 0;
      this.prevRejections.set(key, total);
      this.book.set('dependency_rejections', { dependency, reason }, (total - before) / seconds);
    }
  }
}
