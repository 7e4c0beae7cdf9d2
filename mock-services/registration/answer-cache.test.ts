import { describe, expect, it } from 'vitest';
import { AnswerCache } from './answer-cache.ts';

describe('AnswerCache', () => {
  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new AnswerCache<number>({ maxEntries: 3 }, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
  });

  it('forgets an entry at its TTL, counted from when it was stored', () => {
    let t = 0;
    const cache = new AnswerCache<string>({ ttlMs: 1000 }, () => t);
    cache.set('k', 'v');
    t = 600;
    expect(cache.get('k')).toBe('v');
    t = 1000;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('refuses settings that make no cache', () => {
    expect(() => new AnswerCache({ maxEntries: 0 })).toThrow(/maxEntries: expected an integer >= 1, got 0/);
    expect(() => new AnswerCache({ ttlMs: 0 })).toThrow(/ttlMs: expected a number > 0, got 0/);
  });
});
