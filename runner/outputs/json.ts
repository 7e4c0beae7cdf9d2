import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { MetricsView } from '../metrics/view.ts';
import type { Point } from '../protocol.ts';
import type { Output } from './index.ts';

/**
 * k6's `-o json=FILE`: a Metric line per metric, then a Point line per sample, appended as the
 * worker threads report them so that a long test does not hold its samples in memory.
 */
export function jsonOutput(file: string): Output {
  let out: WriteStream | undefined;
  let failure: Error | undefined;
  return {
    description: `json (${file})`,
    needs: { points: true },
    async start(metrics: MetricsView) {
      const stream = createWriteStream(file);
      stream.on('error', (err) => {
        failure ??= err;
      });
      await once(stream, 'open');
      out = stream;
      const lines = metrics.definitions().map((m) =>
        JSON.stringify({
          type: 'Metric',
          data: { name: m.name, type: m.type, contains: m.contains, thresholds: [], submetrics: null },
          metric: m.name,
        }),
      );
      out.write(`${lines.join('\n')}\n`);
    },
    onPoints(points: readonly Point[]) {
      let chunk = '';
      for (const p of points) {
        chunk += `${JSON.stringify({
          metric: p.metric,
          type: 'Point',
          data: { time: new Date(p.time).toISOString(), value: p.value, tags: p.tags },
        })}\n`;
      }
      out?.write(chunk);
    },
    async stop() {
      if (!out) return;
      out.end();
      if (!failure) await once(out, 'close');
      if (failure) throw failure;
    },
  };
}
