import { join } from 'node:path';
import { type RunRecord, RunRecordError, readRunRecord } from '../../reports/record.ts';

/**
 * A run record as `report` and `compare` read it: reports/record.ts's reader (each file against
 * its schema), then what a schema of one file cannot say and the charts and statistics assume:
 * every series has one value per interval and the intervals' ends increase (a series longer than
 * t crashed the charts). The message names the file and the field, as the reader's do.
 */
export function readCheckedRecord(dir: string): RunRecord | string {
  let record: RunRecord;
  try {
    record = readRunRecord(dir);
  } catch (err) {
    if (err instanceof RunRecordError) return err.message;
    throw err;
  }
  const file = join(dir, 'timeseries.json');
  const { t, series } = record.timeseries;
  const back = t.findIndex((x, i) => i > 0 && x <= (t[i - 1] as number));
  if (back >= 0)
    return `${file}: t.${back}: expected the intervals' ends in increasing order, got ${t[back]} after ${t[back - 1]}`;
  for (const [i, s] of series.entries())
    if (s.values.length !== t.length)
      return `${file}: series.${i}.values (${s.name}${Object.keys(s.labels).length ? ` ${JSON.stringify(s.labels)}` : ''}): expected one value per interval (${t.length}, as t has), got ${s.values.length}`;
  return record;
}
