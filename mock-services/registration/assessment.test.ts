import { describe, expect, it } from 'vitest';
import { OPTIONS, PASS_SCORE, QUESTIONS, score } from './assessment.ts';

/** The key, recovered through the public function alone: the option that scores on each question. */
function recoverKey(): number[] {
  const key: number[] = [];
  for (let q = 0; q < QUESTIONS; q++) {
    for (let option = 0; option < OPTIONS; option++) {
      // Every other answer is out of range, so only question q can score.
      const answers = Array.from({ length: QUESTIONS }, (_, i) => (i === q ? option : -1));
      if (score(answers).score > 0) key.push(option);
    }
  }
  return key;
}

describe('score', () => {
  const key = recoverKey();

  it('has exactly one right option per question', () => {
    expect(key).toHaveLength(QUESTIONS);
  });

  it('gives 100 for the key and 0 when every answer is wrong', () => {
    expect(score(key)).toEqual({ score: 100, passed: true });
    expect(score(key.map((k) => (k + 1) % OPTIONS))).toEqual({ score: 0, passed: false });
  });

  it('gives 5 points per right answer and passes from the pass mark', () => {
    const withRight = (n: number) => key.map((k, i) => (i < n ? k : (k + 1) % OPTIONS));
    expect(score(withRight(11))).toEqual({ score: 55, passed: false });
    expect(PASS_SCORE).toBe(60);
    expect(score(withRight(12))).toEqual({ score: 60, passed: true });
    expect(score(withRight(19)).score).toBe(95);
  });

  it('does not reward answering every question with the same option', () => {
    for (let option = 0; option < OPTIONS; option++) {
      expect(score(Array(QUESTIONS).fill(option)).passed).toBe(false);
    }
  });
});
