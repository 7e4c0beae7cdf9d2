import { currentVu, runtime, withVuTags } from '../runtime.ts';

/** `k6`: check, sleep, fail; group refused (it cannot time async code correctly). */

type Checkers<T> = Record<string, (value: T) => unknown>;

const ASYNC_CHECK =
  'check() does not support async functions as arguments, please see https://k6.io/docs/javascript-api/k6/group/#working-with-async-functions for more info';

export function check<T>(value: T, sets: Checkers<T>, tags?: Record<string, string>): boolean {
  const rt = runtime();
  const vu = currentVu();
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    // k6 refuses an async check (its promise would always pass) before counting it.
    if (typeof fn === 'function' && fn.constructor?.name === 'AsyncFunction') throw new Error(ASYNC_CHECK);
    // '::' separates a group path's parts (setup() runs in '::setup'): k6 refuses it in a name.
    if (name.includes('::')) throw new Error("group and check names may not contain '::'");
    let passed: boolean;
    let thrown: { error: unknown } | undefined;
    try {
      passed = Boolean(typeof fn === 'function' ? fn(value) : fn);
    } catch (error) {
      passed = false;
      thrown = { error };
    }
    const checkTags = withVuTags(vu, rt.globalTags, tags);
    checkTags.check = name;
    rt.check(name, passed, checkTags);
    if (!passed) all = false;
    // As k6: the check that threw counts as failed, then its error goes on up (the checks after
    // it are not made, nor is the rest of the iteration, unless the script catches it).
    if (thrown) throw thrown.error;
  }
  return all;
}

/**
 * Resolves after `seconds`; `await sleep(1)` works on real k6 too (its sleep blocks and returns
 * undefined). A thenable, not a Promise, so that awaiting it is seen (await, Promise.all and
 * Promise.race call its then): a sleep still pending that nothing awaited when the VU's call ends
 * is k6's everyday blocking `sleep(1)`, which would run at full speed here, and is refused then
 * (worker.ts). A sleep that lost a Promise.race was awaited, and is not.
 */
export function sleep(seconds: number): PromiseLike<void> {
  const ms = Math.max(0, Number(seconds) * 1000);
  const vu = currentVu();
  const token = {};
  if (vu) {
    vu.unawaited ??= new Set();
    vu.unawaited.add(token);
  }
  const slept = new Promise<void>((resolve) =>
    setTimeout(() => {
      vu?.unawaited?.delete(token);
      resolve();
    }, ms),
  );
  return {
    // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose (above)
    then(onFulfilled, onRejected) {
      vu?.unawaited?.delete(token);
      return slept.then(onFulfilled, onRejected);
    },
  };
}

export function fail(message?: string): never {
  throw new Error(message ?? 'fail() called');
}

/** Refused: with async functions k6 cannot attribute time or tags to a group either (../unsupported.ts). */
export function group(..._args: unknown[]): never {
  return runtime().refuse('k6', 'group');
}

/** Math.random repeatable, per VU as k6's (not the same numbers: k6 draws from Go's math/rand). */
export function randomSeed(seed: number): void {
  runtime().randomSeed(Number(seed));
}

export default { check, sleep, fail, group, randomSeed };
