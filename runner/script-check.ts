import { SourceMap } from 'node:module';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESPONSE_METHODS, refusal, UNSUPPORTED } from './unsupported.ts';

/**
 * Finds the calls a script makes that the embedded runner does not implement, before the script
 * runs. It reads the script bundled with the k6 modules left as imports (esbuild's output: plain
 * ES2022, imports first, the script's own names kept), maps the local names of the `k6` and
 * `k6/http` imports, and finds their uses: `http.get(...)`, `http['batch']`, `const { get } =
 * http`, a named `group` import called, and `.html()` on anything in the script's own files
 * (a response is not a name the check can follow). Positions go back to the script's sources
 * through the bundle's source map. Uses that only exist at run time (a computed name) are the
 * modules' guards' business.
 */

interface Token {
  /** identifier, string, punctuator; 'x' for the rest (numbers, regexes, template text) */
  t: 'id' | 'str' | 'p' | 'x';
  v: string;
  at: number;
}

/** Words after which a `/` starts a regular expression, not a division. */
const BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);
const ID_START = /[A-Za-z_$\\\u0080-\uffff]/;
const ID_PART = /[\w$\\\u0080-\uffff]/;

/** A tokenizer for what esbuild writes: enough JavaScript to tell names from strings and comments. */
function tokenize(code: string): Token[] {
  const out: Token[] = [];
  const braces: Array<'{' | '${'> = [];
  let i = 0;
  const push = (t: Token['t'], v: string, at: number) => out.push({ t, v, at });
  const regexAllowed = () => {
    const last = out[out.length - 1];
    if (!last) return true;
    if (last.t === 'id') return BEFORE_REGEX.has(last.v);
    if (last.t !== 'p') return false;
    return last.v !== ')' && last.v !== ']' && last.v !== '}';
  };
  /** Template text from `i` to its end or to a `${`; returns where tokenizing resumes. */
  const template = (from: number): number => {
    let j = from;
    while (j < code.length) {
      if (code[j] === '\\') j += 2;
      else if (code[j] === '`') {
        push('x', '`', from);
        return j + 1;
      } else if (code[j] === '$' && code[j + 1] === '{') {
        push('x', '`', from);
        braces.push('${');
        return j + 2;
      } else j++;
    }
    return j;
  };
  while (i < code.length) {
    const c = code[i] as string;
    const next = code[i + 1];
    if (/\s/.test(c)) i++;
    else if (c === '/' && next === '/') i = code.indexOf('\n', i) < 0 ? code.length : code.indexOf('\n', i);
    else if (c === '/' && next === '*')
      i = code.indexOf('*/', i + 2) < 0 ? code.length : code.indexOf('*/', i + 2) + 2;
    else if (ID_START.test(c)) {
      let j = i + 1;
      while (j < code.length && ID_PART.test(code[j] as string)) j++;
      push('id', code.slice(i, j), i);
      i = j;
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(next ?? ''))) {
      const m = /^(?:0[xXbBoO][\da-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?/.exec(
        code.slice(i, i + 64),
      );
      push('x', m?.[0] ?? c, i);
      i += m?.[0].length || 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < code.length && code[j] !== c) j += code[j] === '\\' ? 2 : 1;
      push('str', code.slice(i + 1, j).replace(/\\(.)/g, '$1'), i);
      i = j + 1;
    } else if (c === '`') i = template(i + 1);
    else if (c === '{') {
      braces.push('{');
      push('p', c, i++);
    } else if (c === '}') {
      if (braces.pop() === '${') i = template(i + 1);
      else push('p', c, i++);
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < code.length && (inClass || code[j] !== '/')) {
        if (code[j] === '\\') j++;
        else if (code[j] === '[') inClass = true;
        else if (code[j] === ']') inClass = false;
        j++;
      }
      j++;
      while (j < code.length && /[a-z]/.test(code[j] as string)) j++;
      push('x', code.slice(i, j), i);
      i = j;
    } else if (c === '?' && next === '.' && !/\d/.test(code[i + 2] ?? '')) {
      push('p', '?.', i);
      i += 2;
    } else if (c === '.' && next === '.' && code[i + 2] === '.') {
      push('p', '...', i);
      i += 3;
    } else push('p', c, i++);
  }
  return out;
}

interface Import {
  module: string;
  /** default and namespace bindings: the module object */
  objects: string[];
  /** named bindings: local name -> exported name */
  named: Map<string, string>;
  /** token indices of the declaration */
  from: number;
  to: number;
}

/** The static imports of esbuild's ESM output (`import a, { b as c } from "m"`, `import * as n from "m"`). */
function importsOf(tok: Token[]): Import[] {
  const out: Import[] = [];
  for (let i = 0; i < tok.length; i++) {
    const start = tok[i];
    if (start?.t !== 'id' || start.v !== 'import' || tok[i - 1]?.v === '.') continue;
    let j = i + 1;
    const imp: Import = { module: '', objects: [], named: new Map(), from: i, to: i };
    if (tok[j]?.t === 'id') imp.objects.push((tok[j++] as Token).v);
    if (tok[j]?.v === ',') j++;
    if (tok[j]?.v === '*' && tok[j + 1]?.v === 'as') {
      imp.objects.push(tok[j + 2]?.v ?? '');
      j += 3;
    } else if (tok[j]?.v === '{') {
      j++;
      while (j < tok.length && tok[j]?.v !== '}') {
        const exported = tok[j]?.v ?? '';
        const local = tok[j + 1]?.v === 'as' ? (tok[j + 2]?.v ?? '') : exported;
        imp.named.set(local, exported);
        j += tok[j + 1]?.v === 'as' ? 3 : 1;
        if (tok[j]?.v === ',') j++;
      }
      j++;
    }
    if (tok[j]?.v !== 'from' || tok[j + 1]?.t !== 'str') continue;
    imp.module = tok[j + 1]?.v ?? '';
    imp.to = j + 1;
    out.push(imp);
  }
  return out;
}

/** The keys of the object pattern that ends just before token `end` (`{ get, post: p } = http`). */
function patternKeys(tok: Token[], end: number): Array<{ name: string; at: number }> {
  let depth = 0;
  let open = end;
  for (; open >= 0; open--) {
    const v = tok[open]?.v;
    if (v === '}') depth++;
    if (v === '{' && --depth === 0) break;
  }
  const keys: Array<{ name: string; at: number }> = [];
  depth = 0;
  for (let k = open + 1; k < end; k++) {
    const x = tok[k] as Token;
    if (x.v === '{' || x.v === '[') depth++;
    else if (x.v === '}' || x.v === ']') depth--;
    const before = tok[k - 1]?.v;
    if (depth === 0 && (x.t === 'id' || x.t === 'str') && (before === '{' || before === ','))
      keys.push({ name: x.v, at: x.at });
  }
  return keys;
}

/** Own keys only: a name such as `constructor` is not in a table because Object.prototype has it. */
const has = (table: object | undefined, key: string) => table !== undefined && Object.hasOwn(table, key);

interface Use {
  module: string;
  name: string;
  /** offset in the bundle */
  at: number;
}

function usesIn(tok: Token[]): Use[] {
  const uses: Use[] = [];
  const imports = importsOf(tok);
  const inImport = (k: number) => imports.some((m) => k >= m.from && k <= m.to);
  const objects = new Map<string, string>();
  const named = new Map<string, { module: string; name: string }>();
  for (const m of imports) {
    const unsupported = UNSUPPORTED[m.module];
    if (!has(UNSUPPORTED, m.module)) continue;
    for (const o of m.objects) objects.set(o, m.module);
    for (const [local, exported] of m.named)
      if (has(unsupported, exported)) named.set(local, { module: m.module, name: exported });
  }
  const unsupported = (module: string, name: string, at: number) => {
    if (has(UNSUPPORTED[module], name)) uses.push({ module, name, at });
  };
  for (let k = 0; k < tok.length; k++) {
    const x = tok[k] as Token;
    const before = tok[k - 1];
    const after = tok[k + 1];
    if (x.t !== 'id' || inImport(k)) continue;
    const member = before?.v === '.' || before?.v === '?.';
    if (member && has(RESPONSE_METHODS, x.v) && after?.v === '(')
      uses.push({ module: 'Response', name: x.v, at: x.at });
    if (member) continue;
    // an object literal's key is not a use of the name
    if (after?.v === ':' && (before?.v === '{' || before?.v === ',')) continue;
    const n = named.get(x.v);
    if (n) uses.push({ ...n, at: x.at });
    const module = objects.get(x.v);
    if (!module) continue;
    // http.get, http?.get, http['get'], http?.['get']
    const open = after?.v === '?.' && tok[k + 2]?.v === '[' ? k + 2 : k + 1;
    if ((after?.v === '.' || after?.v === '?.') && tok[k + 2]?.t === 'id')
      unsupported(module, (tok[k + 2] as Token).v, x.at);
    else if (tok[open]?.v === '[' && tok[open + 1]?.t === 'str' && tok[open + 2]?.v === ']')
      unsupported(module, (tok[open + 1] as Token).v, x.at);
    else if (before?.v === '=' && tok[k - 2]?.v === '}')
      for (const key of patternKeys(tok, k - 1)) unsupported(module, key.name, key.at);
  }
  return uses;
}

/** Where an offset of the bundle comes from in the script's sources, via the source map. */
function locate(code: string, map: SourceMap, sourceRoot: string, at: number) {
  const line = code.slice(0, at).split('\n').length - 1;
  const column = at - (code.lastIndexOf('\n', at - 1) + 1);
  const entry = map.findEntry(line, column) as {
    originalSource?: string;
    originalLine?: number;
    originalColumn?: number;
  };
  if (entry.originalSource === undefined) return undefined;
  const source = entry.originalSource;
  const file = source.startsWith('file:') ? fileURLToPath(source) : resolve(sourceRoot, source);
  const near = relative(process.cwd(), file);
  return {
    file,
    where: `${near.startsWith('..') ? file : near}:${(entry.originalLine ?? 0) + 1}:${(entry.originalColumn ?? 0) + 1}`,
  };
}

/**
 * The calls of `code` (a bundle with k6's modules external, `mapText` its source map, whose paths
 * are relative to `sourceRoot`) that the runner does not implement: one line each, with where it
 * is and what to write instead. A method only a response has is judged in the script's own files,
 * not in the npm packages it bundles.
 */
export function unsupportedCalls(code: string, mapText: string, sourceRoot: string): string[] {
  const map = new SourceMap(JSON.parse(mapText));
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const use of usesIn(tokenize(code))) {
    const place = locate(code, map, sourceRoot, use.at);
    if (use.module === 'Response' && place?.file.includes('/node_modules/')) continue;
    const line = `${place?.where ?? '(bundle)'}: ${refusal(use.module, use.name)}`;
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  }
  return lines;
}
