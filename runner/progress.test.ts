import { describe, expect, it } from 'vitest';
import { Progress, type ProgressView } from './progress.ts';

/** The live progress display, on a captured stream and a clock the test moves. */

const CLEAR_LINE = '\u001b[2K';

function capture() {
  const chunks: string[] = [];
  return { out: { write: (s: string) => chunks.push(s) > 0 }, chunks, text: () => chunks.join('') };
}

const view = (over: Partial<ProgressView['p']> = {}, name = 'opening', startMs = 0): ProgressView => ({
  name,
  plannedMs: 90_000,
  startMs,
  p: { iterations: 0, interrupted: 0, dropped: 0, activeVUs: 0, initializedVUs: 10, done: false, ...over },
});

describe('the progress display', () => {
  it('on a terminal redraws the same lines in place, with elapsed/planned, VUs, iterations/s, dropped, failed checks', () => {
    let now = 1_000_000;
    const c = capture();
    const progress = new Progress('tty', c.out, () => now);
    progress.render([view({ activeVUs: 3 }), view({}, 'soak', 60_000)], 0, 0);
    const first = c.text();
    // two scenarios and the checks line, each cleared before it is written; no cursor move yet
    expect(first.split(CLEAR_LINE).length - 1).toBe(3);
    expect(first).not.toContain('\u001b[3A');
    expect(first).toContain(
      'opening              running 0ms/1m30s  VUs    3/10       0.0 it/s  0 done  0 dropped',
    );
    expect(first).toContain('soak                 waiting 0ms/1m30s');
    expect(first).toContain('checks failed: 0  elapsed 0ms');

    c.chunks.length = 0;
    now += 2000;
    progress.render(
      [
        view({ iterations: 100, activeVUs: 7, dropped: 4, interrupted: 1 }),
        view({ done: true }, 'soak', 60_000),
      ],
      2000,
      5,
    );
    const second = c.text();
    // back up over the three lines drawn before, then redraw them
    expect(second.startsWith('\u001b[3A')).toBe(true);
    expect(second.split(CLEAR_LINE).length - 1).toBe(3);
    // 100 iterations in the 2 s since the last reading
    expect(second).toContain(
      'opening              running 2s/1m30s  VUs    7/10      50.0 it/s  100 done  4 dropped  1 interrupted',
    );
    expect(second).toContain('soak                 done    0ms/1m30s');
    expect(second).toContain('checks failed: 5  elapsed 2s');
  });

  it('keeps the last rate between readings less than a second apart', () => {
    let now = 0;
    const c = capture();
    const progress = new Progress('tty', c.out, () => now);
    progress.render([view({ iterations: 0 })], 0, 0);
    now = 1000;
    progress.render([view({ iterations: 30 })], 1000, 0);
    c.chunks.length = 0;
    now = 1500;
    progress.render([view({ iterations: 45 })], 1500, 0);
    expect(c.text()).toContain('30.0 it/s  45 done');
  });

  it('off a terminal writes plain lines, at most one set every 5 s, with no escape codes', () => {
    let now = 10_000;
    const c = capture();
    const progress = new Progress('plain', c.out, () => now);
    progress.render([view({ iterations: 1 })], 0, 0);
    expect(c.chunks).toEqual([
      'running: opening              running 0ms/1m30s  VUs    0/10       0.0 it/s  1 done  0 dropped\n',
      'running: checks failed: 0  elapsed 0ms\n',
    ]);
    now += 4999;
    progress.render([view({ iterations: 2 })], 4999, 0);
    expect(c.chunks).toHaveLength(2);
    now += 1;
    progress.render([view({ iterations: 3 })], 5000, 0);
    expect(c.chunks).toHaveLength(4);
    expect(c.text()).not.toContain('\u001b');
  });

  it('writes nothing when quiet', () => {
    const c = capture();
    new Progress('none', c.out, () => 0).render([view()], 0, 0);
    expect(c.chunks).toEqual([]);
  });
});
