import { formatDuration } from './options/duration.ts';
import type { ScenarioProgress } from './protocol.ts';

/**
 * Live progress on stderr: redrawn in place on a terminal, a plain line every few seconds
 * otherwise (CI logs). Per scenario: elapsed / planned, active VUs, iterations/s, dropped, and
 * the failed checks of the whole test.
 */
export interface ProgressView {
  name: string;
  plannedMs: number;
  startMs: number;
  p: ScenarioProgress;
}

export class Progress {
  private lastLines = 0;
  private lastPlain = 0;
  private lastIterations = new Map<string, { n: number; t: number; rate: number }>();

  constructor(
    private readonly mode: 'tty' | 'plain' | 'none',
    private readonly out: Pick<NodeJS.WriteStream, 'write'> = process.stderr,
    /** the wall clock (a test's own, so the iteration rate and the plain-line pacing are checked exactly) */
    private readonly clock: () => number = Date.now,
  ) {}

  render(views: ProgressView[], elapsedMs: number, checksFailed: number): void {
    if (this.mode === 'none') return;
    const now = this.clock();
    const lines = views.map((v) => {
      const prev = this.lastIterations.get(v.name);
      let rate = prev?.rate ?? 0;
      if (prev && now - prev.t >= 1000) rate = ((v.p.iterations - prev.n) * 1000) / (now - prev.t);
      if (!prev || now - prev.t >= 1000) this.lastIterations.set(v.name, { n: v.p.iterations, t: now, rate });
      const ran = Math.max(0, Math.min(elapsedMs - v.startMs, v.plannedMs));
      const state = v.p.done ? 'done' : elapsedMs < v.startMs ? 'waiting' : 'running';
      return `${v.name.padEnd(20)} ${state.padEnd(7)} ${formatDuration(ran)}/${formatDuration(v.plannedMs)}  VUs ${String(v.p.activeVUs).padStart(4)}/${v.p.initializedVUs}  ${rate.toFixed(1).padStart(8)} it/s  ${v.p.iterations} done  ${v.p.dropped} dropped${v.p.interrupted ? `  ${v.p.interrupted} interrupted` : ''}`;
    });
    lines.push(`checks failed: ${checksFailed}  elapsed ${formatDuration(elapsedMs)}`);
    if (this.mode === 'tty') {
      if (this.lastLines) this.out.write(`\u001b[${this.lastLines}A`);
      for (const l of lines) this.out.write(`\u001b[2K${l}\n`);
      this.lastLines = lines.length;
    } else if (now - this.lastPlain >= 5000) {
      this.lastPlain = now;
      for (const l of lines) this.out.write(`running: ${l}\n`);
    }
  }
}

/** One scenario's progress over every worker thread; done once every thread has reported it done. */
export function mergeProgress(list: Array<ScenarioProgress | undefined>): ScenarioProgress {
  const out: ScenarioProgress = {
    iterations: 0,
    interrupted: 0,
    dropped: 0,
    activeVUs: 0,
    initializedVUs: 0,
    done: list.length > 0,
  };
  for (const p of list) {
    if (!p) {
      out.done = false;
      continue;
    }
    out.iterations += p.iterations;
    out.interrupted += p.interrupted;
    out.dropped += p.dropped;
    out.activeVUs += p.activeVUs;
    out.initializedVUs += p.initializedVUs;
    out.done &&= p.done;
  }
  return out;
}
