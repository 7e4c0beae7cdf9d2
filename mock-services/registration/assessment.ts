/**
 * The motivation and basic-skills test (about 15 minutes in 2020): 20 multiple-choice questions
 * with four options, scored against a fixed key. Pure.
 */
export const QUESTIONS = 20;
export const OPTIONS = 4;
export const PASS_SCORE = 60;
const ANSWER_KEY = [2, 0, 3, 1, 1, 2, 0, 3, 2, 1, 0, 0, 3, 2, 1, 3, 0, 2, 1, 3] as const;

export function score(answers: readonly number[]): { score: number; passed: boolean } {
  let correct = 0;
  for (let i = 0; i < QUESTIONS; i++) if (answers[i] === ANSWER_KEY[i]) correct++;
  const s = Math.round((correct / QUESTIONS) * 100);
  return { score: s, passed: s >= PASS_SCORE };
}
