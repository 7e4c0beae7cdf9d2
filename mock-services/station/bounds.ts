import type { Capacity } from '../../model/capacity.ts';
import type { ServiceTime, Station } from '../../model/station.ts';

/**
 * What a mock accepts beyond the capacity schema (model/capacity.ts), which the simulator shares
 * and which must stay free to model any what-if. A mock runs real timers on real requests: Node's
 * setTimeout turns a delay over 2^31-1 ms (24.8 days) into 1 ms, so an unbounded duration would
 * silently make every call time out at once; and a service time that does not fit in the timeout
 * is a mock that can only ever answer 504. Both are refused, at start and on PATCH /admin/config.
 */
export const MOCK_LIMITS = {
  /** a dependency's own timeout (`timeoutMs`): 10 minutes */
  timeoutMs: 600_000,
  /** a service time (`ms`, `medianMs`, `p99Ms`): 10 minutes */
  serviceTimeMs: 600_000,
  /** the email mock's delivery delay (`deliveryDelay.*`): 1 hour; longer draws are capped to it */
  deliveryDelayMs: 3_600_000,
} as const;

/** The largest delay a Node timer keeps; anything above fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface BoundIssue {
  /** the JSON path of the field, as in the capacity file */
  path: string;
  message: string;
}

function durationIssues(st: ServiceTime, path: string, max: number, what: string): BoundIssue[] {
  const fields: Array<[string, number]> =
    st.distribution === 'constant'
      ? [['ms', st.ms]]
      : [
          ['medianMs', st.medianMs],
          ['p99Ms', st.p99Ms],
        ];
  return fields
    .filter(([, v]) => v > max)
    .map(([k, v]) => ({
      path: `${path}.${k}`,
      message: `${v} ms is over the maximum ${what} of ${max} ms`,
    }));
}

function stationIssues(name: string, s: Station): BoundIssue[] {
  const issues: BoundIssue[] = [];
  if (s.timeoutMs > MOCK_LIMITS.timeoutMs)
    issues.push({
      path: `${name}.timeoutMs`,
      message: `${s.timeoutMs} ms is over the maximum timeout of ${MOCK_LIMITS.timeoutMs} ms`,
    });
  issues.push(
    ...durationIssues(s.serviceTime, `${name}.serviceTime`, MOCK_LIMITS.serviceTimeMs, 'service time'),
  );
  // The typical request must be able to finish: a tail beyond the timeout is a realistic fault, a
  // median beyond it is a dependency that (nearly) always times out.
  const st = s.serviceTime;
  const [field, typical] = st.distribution === 'constant' ? ['ms', st.ms] : ['medianMs', st.medianMs];
  if (typical >= s.timeoutMs)
    issues.push({
      path: `${name}.serviceTime.${field}`,
      message: `${typical} ms does not fit in timeoutMs (${s.timeoutMs} ms): ${
        st.distribution === 'constant' ? 'every request' : 'half of the requests or more'
      } would time out; expected less than timeoutMs`,
    });
  return issues;
}

/** Every duration of the given stations that a mock cannot honour, with its path and why. */
export function mockBoundIssues(capacity: Partial<Capacity>): BoundIssue[] {
  const issues: BoundIssue[] = [];
  for (const [name, station] of Object.entries(capacity) as Array<[keyof Capacity, Station | undefined]>) {
    if (!station) continue;
    issues.push(...stationIssues(name, station));
    if (name === 'email' && capacity.email)
      issues.push(
        ...durationIssues(
          capacity.email.deliveryDelay,
          'email.deliveryDelay',
          MOCK_LIMITS.deliveryDelayMs,
          'delivery delay',
        ),
      );
  }
  return issues;
}

export function describeBoundIssues(issues: readonly BoundIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}
