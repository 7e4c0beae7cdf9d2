import { afterAll, beforeAll } from 'vitest';
import { type RunningStack, startStack } from '../../scripts/stack.ts';

/**
 * The whole stack on loopback with `capacity.unlimited.json` (no delay, no fault, huge limits), two
 * registration processes and a cheap hash, for the file's tests: started once before them, stopped
 * after. The tests call the returned function for the running stack.
 */
export function unlimitedStack(): () => RunningStack {
  let stack: RunningStack | undefined;
  beforeAll(async () => {
    stack = await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { SCRYPT_N: '1024', WORKERS: '2' } },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the stack did not start');
    return stack;
  };
}
