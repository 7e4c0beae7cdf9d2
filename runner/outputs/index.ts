import type { MetricsView } from '../metrics/view.ts';
import type { Point } from '../protocol.ts';

/**
 * Where a test's samples go besides the summary, as k6's output.Output: started before setup(),
 * fed while the test runs, stopped after it. `runTest` builds the k6 ones from its options (`-o
 * json=FILE`, `-o prometheus`) and takes others in `outputs` (the rehearsal's recorder).
 */

export interface Output {
  /** names the output in messages (k6's Description()) */
  readonly description: string;
  /**
   * What the worker threads must record for this output beyond the aggregates they always keep:
   * every sample (`points`, costly), or aggregates per tag set (`tagSeries`, for the view's
   * by-tag breakdowns and the Prometheus exposition).
   */
  readonly needs?: { readonly points?: boolean; readonly tagSeries?: boolean };
  /** once the script's metrics are defined, before setup(); a failure ends the test with exit code 104 */
  start?(metrics: MetricsView): void | Promise<void>;
  /** every sample, in batches as the worker threads report them (k6's AddMetricSamples); needs `points` */
  onPoints?(points: readonly Point[]): void;
  /** every 250 ms while the test runs, once the workers' latest reports are merged */
  onSample?(metrics: MetricsView, elapsedMs: number): void;
  /** after the test and its summary, whatever its outcome; runTest returns once every stop has ended */
  stop?(): Promise<void>;
}
