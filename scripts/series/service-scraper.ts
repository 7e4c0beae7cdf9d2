import type { SeriesBook } from './series-book.ts';

/**
 * Reads the services' /metrics (Prometheus text) at each tick, for a run record made without a
 * Prometheus server: per dependency, busy servers over capacity, queue fill, refusals per second;
 * per process, the CPU it used and its event-loop delay.
 * A scrape that fails or is late leaves nulls for that tick; it never stops the rehearsal.
 */

type Sample = { name: string; labels: Record<string, string>; value: number };

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
]);

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
  /** per process: CPU seconds at the last scrape and at the last sample; the highest loop lag since */
  private cpuNow = new Map<string, number>();
  private cpuBefore = new Map<string, number>();
  private peakLag = new Map<string, number>();
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
      this.cpuNow.set(process, cpu.value);
      if (!this.cpuBefore.has(process)) this.cpuBefore.set(process, cpu.value);
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
    for (const s of samples) {
      if (s.name === 'station_rejections_total' && s.labels.dependency) {
        this.rejections.set(`${s.labels.dependency}\u0000${s.labels.reason ?? 'unknown'}`, s.value);
      }
    }
  }

  /** Writes the interval's peaks and refusal rates into the current tick, and starts over. */
  sample(seconds: number): void {
    for (const [dependency, v] of this.peakBusy) this.book.set('dependency_utilisation', { dependency }, v);
    for (const [dependency, v] of this.peakQueue) this.book.set('dependency_queue_ratio', { dependency }, v);
    this.peakBusy.clear();
    this.peakQueue.clear();
    for (const [process, now] of this.cpuNow) {
      // The first interval of a service counts from its first scrape, not from its start-up.
      this.book.set('process_cpu_cores', { process }, (now - (this.cpuBefore.get(process) ?? now)) / seconds);
      this.cpuBefore.set(process, now);
    }
    for (const [process, v] of this.peakLag) this.book.set('event_loop_lag_ms', { process }, v);
    this.peakLag.clear();
    for (const [key, total] of this.rejections) {
      const [dependency = '', reason = ''] = key.split('\u0000');
      const before = this.prevRejections.get(key) ?? 0;
      this.prevRejections.set(key, total);
      this.book.set('dependency_rejections', { dependency, reason }, (total - before) / seconds);
    }
  }
}
