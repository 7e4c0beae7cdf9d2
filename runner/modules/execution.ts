import { currentVu, runtime, TestAbortedError } from '../runtime.ts';

/** `k6/execution`: the VU, scenario and instance a line of script runs in; test.abort(). */

function vu() {
  const v = currentVu();
  if (!v)
    throw new Error(
      'k6/execution: vu and scenario are only available inside a VU function (not in init, setup or teardown)',
    );
  return v;
}

const execution = {
  get vu() {
    const v = vu();
    return {
      idInTest: v.idInTest,
      idInInstance: v.idInInstance,
      iterationInInstance: v.iterationInInstance,
      iterationInScenario: v.iterationInScenario,
      tags: v.tags,
      metrics: { tags: v.tags, metadata: {} },
    };
  },
  get scenario() {
    const v = vu();
    return {
      name: v.scenario,
      executor: v.executor,
      startTime: v.scenarioStartTime,
      progress: runtime().scenarioProgress(v.scenario),
      iterationInInstance: v.iterationInInstance,
      iterationInTest: v.iterationInTest,
    };
  },
  get instance() {
    return runtime().instance();
  },
  test: {
    abort(reason?: string): never {
      const message = reason ? `test aborted: ${reason}` : 'test aborted';
      runtime().abortTest(message);
      throw new TestAbortedError(message);
    },
    get options() {
      return runtime().options();
    },
  },
};

export default execution;
export const { test } = execution;
