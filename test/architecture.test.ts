import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The one-way rules of DEVELOPERS.md, checked on every import of every source file (tests are
 * exempt: they may reach across to check one side against another). A rule broken here is a design
 * change, to be argued in DEVELOPERS.md first, not silenced in this file.
 */

const ROOT = join(import.meta.dirname, '..');

interface ImportSite {
  file: string;
  specifier: string;
  /** repository path of a relative import, null for a package or built-in */
  target: string | null;
}

function importsOf(file: string): ImportSite[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map(({ fileName }) => siteOf(file, fileName));
}

function siteOf(file: string, specifier: string): ImportSite {
  return {
    file,
    specifier,
    target: specifier.startsWith('.') ? normalize(join(dirname(file), specifier)) : null,
  };
}

function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .map((f) => `${folder}/${f}`)
    .filter((f) => /\.(ts|mjs)$/.test(f) && !/\.test\.ts$/.test(f) && !/(node_modules|fixtures)\//.test(f))
    .sort();
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isNodeBuiltin = (s: string) => s.startsWith('node:') || NODE_BUILTINS.has(s.split('/')[0] as string);
const isK6 = (s: string) => s === 'k6' || s.startsWith('k6/');

interface Rule {
  folder: string;
  why: string;
  /** repository paths (prefixes) a relative import may reach */
  mayImport: readonly string[];
  /** the packages and built-ins it may import; absent: any */
  packages?: (s: string) => boolean;
}

const RULES: readonly Rule[] = [
  {
    folder: 'model',
    why: 'the pure domain: no k6, no Node, nothing above it',
    mayImport: ['model/'],
    packages: (s) => s === 'zod' || s === '@faker-js/faker',
  },
  {
    folder: 'scenarios',
    why: 'k6 scenarios import only k6 modules, the model and their own lib/',
    mayImport: ['scenarios/', 'model/'],
    packages: (s) => isK6(s),
  },
  {
    folder: 'runner',
    why: 'a generic k6 engine that knows nothing of registrations',
    mayImport: ['runner/'],
  },
  {
    folder: 'mock-services/registration',
    why: 'the reference service stands for a real system: it knows its dependencies only by their published contracts',
    mayImport: [
      'mock-services/registration/',
      'mock-services/ports.ts',
      'mock-services/ministry/api.ts',
      'mock-services/upload/presign.ts',
    ],
  },
  {
    folder: 'mock-services',
    why: 'the mocks enforce the model; they never reach the runner, the scenarios or the reports',
    mayImport: ['mock-services/', 'model/'],
  },
  {
    folder: 'simulator',
    why: 'the simulator runs on the model and writes the run record',
    mayImport: ['simulator/', 'model/', 'reports/record.ts'],
  },
  {
    folder: 'reports',
    why: 'reports read run records and the model, nothing that runs',
    mayImport: ['reports/', 'model/'],
  },
  {
    folder: 'dashboards',
    why: 'dashboards as code chart the model and the stack',
    mayImport: ['dashboards/', 'model/', 'mock-services/ports.ts'],
  },
];

/** How the project's TypeScript is run: toolchain, which any entry may import (DEVELOPERS.md). */
const TOOLCHAIN = ['bin/compiled.mjs'];

/** What a file outside runner/ may import from it: its public face, never its store or sinks. */
const RUNNER_PUBLIC = ['runner/index.ts', 'runner/bundle.ts', 'runner/options/duration.ts'];

/** The most specific rule for a file (mock-services/registration before mock-services). */
function ruleFor(file: string): Rule | undefined {
  return [...RULES]
    .sort((a, b) => b.folder.length - a.folder.length)
    .find((r) => file === r.folder || file.startsWith(`${r.folder}/`));
}

function violationsOf(file: string, sites: readonly ImportSite[]): string[] {
  const out: string[] = [];
  const rule = ruleFor(file);
  for (const site of sites) {
    const where = `${file} imports '${site.specifier}'`;
    const target = site.target;
    if (target !== null && TOOLCHAIN.includes(target)) continue;
    if (target !== null) {
      if (target.startsWith('runner/') && !file.startsWith('runner/') && !RUNNER_PUBLIC.includes(target))
        out.push(`${where}: outside runner/, use its public modules (${RUNNER_PUBLIC.join(', ')})`);
      if (rule && !rule.mayImport.some((p) => target === p || target.startsWith(p)))
        out.push(`${where}: ${rule.folder}/ may import only ${rule.mayImport.join(', ')} (${rule.why})`);
    } else if (rule?.packages && !rule.packages(site.specifier)) {
      const what = isNodeBuiltin(site.specifier) ? 'a Node built-in' : 'a package';
      out.push(`${where}: ${what} in ${rule.folder}/ (${rule.why})`);
    }
  }
  return out;
}

const CHECKED = [
  'model',
  'scenarios',
  'runner',
  'mock-services',
  'simulator',
  'reports',
  'dashboards',
  'scripts',
  'bench',
];

describe('the direction of dependencies (DEVELOPERS.md)', () => {
  it('no source file imports across a forbidden boundary', () => {
    const found = CHECKED.flatMap(sources).flatMap((f) => violationsOf(f, importsOf(f)));
    expect(found).toEqual([]);
  });

  it('the check sees the imports it judges', () => {
    // Guards the guard: a rule that matched no file would pass whatever the code did.
    for (const r of RULES) expect(sources(r.folder).length, r.folder).toBeGreaterThan(0);
    const registrant = importsOf('scenarios/lib/registrant.ts');
    expect(registrant.some((s) => s.specifier === 'k6/execution')).toBe(true);
    expect(registrant.some((s) => s.target === 'model/behaviour.ts')).toBe(true);
  });

  it('names the file, the import and the rule of each forbidden import', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['model/funnel.ts', 'node:fs', /a Node built-in in model\//],
      ['model/funnel.ts', 'k6/http', /a package in model\//],
      ['model/funnel.ts', '../scenarios/lib/env.ts', /model\/ may import only model\//],
      ['scenarios/smoke.ts', 'node:path', /a Node built-in in scenarios\//],
      ['runner/worker.ts', '../model/funnel.ts', /knows nothing of registrations/],
      ['mock-services/registration/app.ts', '../../model/funnel.ts', /stands for a real system/],
      ['mock-services/registration/app.ts', '../../runner/index.ts', /stands for a real system/],
      ['mock-services/ministry/server.ts', '../../scenarios/lib/env.ts', /mock-services\/ may import only/],
      ['reports/funnel-report.ts', '../runner/index.ts', /reports\/ may import only/],
      ['scripts/rehearsal.ts', '../runner/metrics/store.ts', /outside runner\/, use its public modules/],
    ];
    for (const [file, specifier, expected] of cases) {
      const found = violationsOf(file, [siteOf(file, specifier)]);
      expect(found, `${file} -> ${specifier}`).toEqual([expect.stringMatching(expected)]);
    }
    expect(
      violationsOf('scripts/rehearsal.ts', [siteOf('scripts/rehearsal.ts', '../runner/index.ts')]),
    ).toEqual([]);
  });
});
