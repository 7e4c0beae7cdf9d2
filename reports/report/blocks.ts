/**
 * The funnel report as a document: sections of headlines, paragraphs, lists, tables and charts,
 * with every word and number already in place. report.md and report.html are both laid out from
 * it, so the two cannot drift apart in what they say; a renderer decides only how a block looks.
 */

export type Inline = string | { code: string } | { strong: string };

export const paragraph = (...parts: Inline[]): Block => ({ kind: 'paragraph', parts });
export const code = (text: string): Inline => ({ code: text });
export const strong = (text: string): Inline => ({ strong: text });
export const col = (label: string, numeric = true): Column => ({ label, numeric });

export interface Column {
  label: string;
  numeric: boolean;
}

type Value = number | null;

/** A span of the run a time-series chart shades and labels: an injected fault, from its start to its end. */
export interface ChartMark {
  fromSeconds: number;
  toSeconds: number;
  label: string;
}

/** What a chart shows, with its labels: a renderer that draws charts needs nothing else. */
export type Chart =
  | { id: 'funnel'; stages: string[]; reached: number[]; conversion: Value[]; conversion2020: Value[] }
  | {
      id: 'losses';
      stages: string[];
      leftByChoice: number[];
      inProgress: number[];
      failed: number[];
      rejected: number[];
    }
  | {
      id: 'latency';
      t: number[];
      p95MsByStep: Record<string, Value[]>;
      sloMs: Record<string, number>;
      marks?: ChartMark[];
    }
  | { id: 'utilisation'; t: number[]; byDependency: Record<string, Value[]>; marks?: ChartMark[] }
  | {
      id: 'arrivals';
      t: number[];
      arrivalsPerSecond: Value[];
      completionsPerSecond: Value[];
      marks?: ChartMark[];
    };

export type Block =
  /** the one line a reader must not miss */
  | { kind: 'headline'; parts: Inline[] }
  | { kind: 'paragraph'; parts: Inline[] }
  | { kind: 'list'; items: Inline[][] }
  | { kind: 'table'; caption: string; columns: Column[]; rows: Inline[][][] }
  | { kind: 'chart'; caption: string; chart: Chart };

export interface Section {
  id: string;
  title: string;
  /** set on the section that gives the verdict, so that a renderer can make it stand out */
  verdict?: 'held' | 'broke';
  blocks: Block[];
}

export interface ReportDocument {
  title: string;
  sections: Section[];
  /** what a renderer that cannot draw the charts says in their place, once */
  withoutCharts: string;
}
