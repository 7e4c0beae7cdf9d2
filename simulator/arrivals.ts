import type { Profile } from '../model/profile.ts';
import { durationMs, type Replay, replay } from '../model/replay.ts';

/**
 * When registrants arrive: the scenarios' replay of the profile (model/replay.ts: scale, compress,
 * window, the k6 ramping-arrival-rate stages), and iteration n (1-based) starts when the area under
 * the rate reaches n, which is how k6 (and the embedded runner) start them. The replay's stages
 * are instant jumps and holds, so within a hold arrivals are evenly spaced. One arrival is pending
 * at a time: a day of 1.4 million arrivals is never held in memory.
 */

export class Arrivals {
  readonly plan: Replay;
  private readonly holds: Array<{ startMs: number; durMs: number; perMs: number }> = [];
  private stage = 0;
  private doneBefore = 0;
  private n = 1;

  constructor(
    profile: Profile,
    o: {
      scale: number;
      compress: number;
      window?: { fromMinute: number; toMinute: number };
      journeySeconds?: number;
    },
  ) {
    this.plan = replay(profile, o);
    const unit = durationMs(this.plan.scenario.timeUnit);
    let at = 0;
    let rate = this.plan.scenario.startRate / unit;
    for (const s of this.plan.scenario.stages) {
      const dur = durationMs(s.duration);
      const to = s.target / unit;
      if (dur > 0 && to !== rate)
        throw new Error('arrivals: expected the replay to jump between holds, found a ramp');
      rate = to;
      if (dur > 0) this.holds.push({ startMs: at, durMs: dur, perMs: rate });
      at += dur;
    }
  }

  /** The start of the next arrival, ms from the replay's start, or undefined when there is none. */
  next(): number | undefined {
    for (;;) {
      const h = this.holds[this.stage];
      if (!h) return undefined;
      const endCount = this.doneBefore + h.durMs * h.perMs;
      if (h.perMs > 0 && this.n <= endCount + 1e-9) {
        const t = h.startMs + (this.n - this.doneBefore) / h.perMs;
        this.n++;
        return t;
      }
      this.doneBefore = endCount;
      this.stage++;
    }
  }
}
