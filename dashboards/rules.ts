import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { PROMETHEUS_DIR, RULE_FILES } from './prometheus-config.ts';

/** The shape of a Prometheus rule file, as far as gelombang reads it. */
const ruleSchema = z.union([
  z.object({
    record: z.string().min(1),
    expr: z.string().min(1),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    alert: z.string().min(1),
    expr: z.string().min(1),
    for: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
]);
const ruleFileSchema = z.object({
  groups: z.array(z.object({ name: z.string().min(1), rules: z.array(ruleSchema).min(1) })).min(1),
});

export type Rule = z.infer<typeof ruleSchema>;
export interface LoadedRule {
  file: string;
  group: string;
  /** the recorded series or the alert's name */
  name: string;
  kind: 'record' | 'alert';
  expr: string;
}

export function loadRuleFile(path: string): LoadedRule[] {
  const parsed = ruleFileSchema.safeParse(parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data.groups.flatMap((g) =>
    g.rules.map((r) =>
      'record' in r
        ? { file: path, group: g.name, name: r.record, kind: 'record' as const, expr: r.expr.trim() }
        : { file: path, group: g.name, name: r.alert, kind: 'alert' as const, expr: r.expr.trim() },
    ),
  );
}

/** Every recording and alerting rule gelombang ships. */
export function loadRules(): LoadedRule[] {
  return RULE_FILES.flatMap((f) => loadRuleFile(join(PROMETHEUS_DIR, f)));
}
