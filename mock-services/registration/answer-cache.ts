/**
 * Answers that do not change within a wave (a NIK's identity, its enrolment, its DTKS status),
 * kept so that a registrant who retries asks the ministries only what they did not answer yet.
 * Bounded in entries and in age: a wave's registrants would otherwise fill the process's memory,
 * and a record corrected at a ministry is seen again after the TTL.
 */

/** 50,000 answers of a few hundred bytes each is some 10-20 MB per process; 10 minutes covers a registrant's retries. */
export const ANSWER_CACHE_DEFAULTS = { maxEntries: 50_000, ttlMs: 10 * 60_000 };

export type AnswerCacheSettings = typeof ANSWER_CACHE_DEFAULTS;

export class AnswerCache<V> {
  private readonly settings: AnswerCacheSettings;
  // A Map iterates in insertion order; moving an entry to the end on a hit makes the first one the least recently used.
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    settings: Partial<AnswerCacheSettings> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.settings = { ...ANSWER_CACHE_DEFAULTS, ...settings };
    const { maxEntries, ttlMs } = this.settings;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new Error(`answer cache maxEntries: expected an integer >= 1, got ${maxEntries}`);
    if (!(ttlMs > 0)) throw new Error(`answer cache ttlMs: expected a number > 0, got ${ttlMs}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.settings.ttlMs });
    while (this.entries.size > this.settings.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
