import type { MetricType } from '../metrics/api.ts';
import { currentVu, runtime, withVuTags } from '../runtime.ts';

/** `k6/metrics`: custom Counter, Gauge, Rate and Trend, defined in the init context. */

class Metric {
  constructor(
    readonly name: string,
    type: MetricType,
    isTime = false,
  ) {
    if (!runtime().initPhase)
      throw new Error(`metric '${name}' must be created in the init context, not in a VU function`);
    runtime().define(name, type, isTime ? 'time' : 'default');
  }

  add(value: number | boolean, tags?: Record<string, string>): boolean {
    const rt = runtime();
    const vu = currentVu();
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
    if (!Number.isFinite(v)) throw new Error(`metric '${this.name}': cannot add ${String(value)}`);
    rt.emit(this.name, v, withVuTags(vu, rt.globalTags, tags));
    return true;
  }
}

export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}
export class Gauge extends Metric {
  constructor(name: string, isTime = false) {
    super(name, 'gauge', isTime);
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}
export class Trend extends Metric {
  constructor(name: string, isTime = false) {
    super(name, 'trend', isTime);
  }
}

export default { Counter, Gauge, Rate, Trend };
