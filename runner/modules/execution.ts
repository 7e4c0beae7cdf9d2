import { currentVu, runtime, TestAbortedError, type VuState } from '../runtime.ts';

/** `k6/execution`: the VU, scenario and instance a line of script runs in; test.abort(). */

// k6 v0.47's words (js/modules/k6/execution/execution.go)
const NO_SCENARIO = 'getting scenario information outside of the VU context is not supported';
const NO_VU = 'getting VU information in the init context is not supported';

function vu(): VuState {
  const v = currentVu();
  if (!v) throw new Error(NO_VU);
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
    const v = currentVu();
    if (!v || v.lifecycle) throw new Error(NO_SCENARIO);
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
