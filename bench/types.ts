/** One measured figure of a bench, printed as a table row and kept in bench/results.json. */
export interface BenchRow {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  /** the figure it is compared with, measured in the same run */
  reference?: number;
  /** value / reference */
  ratio?: number;
  note?: string;
}

export interface Bench {
  name: string;
  run(): Promise<BenchRow[]>;
}
