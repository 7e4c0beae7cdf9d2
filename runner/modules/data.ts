import { runtime } from '../runtime.ts';

/**
 * `k6/data` SharedArray: built once per worker thread (k6 builds it once per instance) from a
 * function run in the init context, then read-only.
 */
export class SharedArray<T> {
  constructor(name: string, build: () => T[]) {
    const rt = runtime();
    if (typeof name !== 'string' || !name) throw new Error('SharedArray needs a name as its first argument');
    if (typeof build !== 'function')
      throw new Error(`SharedArray '${name}': the second argument must be a function returning an array`);
    let data = rt.sharedArrays.get(name);
    if (!data) {
      if (!rt.initPhase) throw new Error(`SharedArray '${name}' must be created in the init context`);
      const built = build();
      if (!Array.isArray(built)) throw new Error(`SharedArray '${name}': the function must return an array`);
      data = Object.freeze(built.map((x) => Object.freeze(JSON.parse(JSON.stringify(x)))));
      rt.sharedArrays.set(name, data);
    }
    // biome-ignore lint/correctness/noConstructorReturn: SharedArray behaves as the frozen array itself, as in k6.
    return data as unknown as SharedArray<T>;
  }
}

export default { SharedArray };
