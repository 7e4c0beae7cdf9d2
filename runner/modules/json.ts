/**
 * k6's `Response.json(selector)`: a parse error in k6's words, and its selectors (tidwall/gjson)
 * as far as everyday scripts use them. k6 parses with Go's encoding/json and reports where the
 * scanner stopped (js/modules/k6/http/response.go checkErrorInJSON); JSON.parse says neither the
 * same thing nor, in Node 20, always where. So a body JSON.parse refuses is scanned once more by
 * a port of Go's scanner (encoding/json/scanner.go), for its message and offset: only then, so a
 * body that parses costs one JSON.parse.
 */

/** An error a script sees as k6's: Go errors reach JavaScript as `GoError`. */
export function goError(message: string): Error {
  return Object.assign(new Error(message), { name: 'GoError' });
}

export const NULL_BODY =
  "the body is null so we can't transform it to JSON - this likely was because of a request error getting the response";

/** JSON.parse, or k6's error for a body it refuses (`body` as the bytes on the wire decode). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const bytes = Buffer.from(text, 'utf8');
    const found = goSyntaxError(bytes) ?? { message: (err as Error).message, offset: 0 };
    throw goError(
      `cannot parse json due to an error at line ${lineOf(text, found.offset)} , error: ${found.message}`,
    );
  }
}

/** "L, character C" as k6 v0.47 counts them: runes up to and including byte `offset`. */
function lineOf(text: string, offset: number): string {
  let line = 1;
  let character = 0;
  let byte = 0;
  for (const ch of text) {
    if (ch === '\n') {
      line++;
      character = 0;
    }
    character++;
    if (byte === offset) break;
    byte += Buffer.byteLength(ch);
  }
  return `${line}, character ${character}`;
}

// ---- Go's scanner: its states, contexts and offsets (the byte count when it failed) ----

type Step = (s: Scanner, c: number) => boolean;
const OBJECT_KEY = 0;
const OBJECT_VALUE = 1;
const ARRAY_VALUE = 2;
const MAX_DEPTH = 10_000;

interface Scanner {
  step: Step;
  stack: number[];
  endTop: boolean;
  err?: { message: string; offset: number };
  bytes: number;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** Go's quoteChar: a byte as strconv.Quote shows the rune of the same number, in single quotes. */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return `'"'`;
  const escapes: Record<number, string> = {
    7: '\\a',
    8: '\\b',
    9: '\\t',
    10: '\\n',
    11: '\\v',
    12: '\\f',
    13: '\\r',
    92: '\\\\',
  };
  if (escapes[c]) return `'${escapes[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  // Latin-1 runes Go's unicode.IsPrint refuses: the C1 controls, no-break space, soft hyphen
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

function fail(s: Scanner, c: number, context: string): boolean {
  s.step = () => false;
  s.err = { message: `invalid character ${quoteChar(c)} ${context}`, offset: s.bytes };
  return false;
}

function push(s: Scanner, c: number, state: number, next: Step): boolean {
  s.stack.push(state);
  if (s.stack.length > MAX_DEPTH) return fail(s, c, 'exceeded max depth');
  s.step = next;
  return true;
}

function pop(s: Scanner): void {
  s.stack.pop();
  if (s.stack.length === 0) {
    s.step = endTop;
    s.endTop = true;
  } else s.step = endValue;
}

/** Go's stateT, stateTr, stateTru (and f..., n...): each expects the literal's next letter. */
const literalAfterFirstLetter = (word: string): Step => {
  let step: Step = endValue;
  for (let i = word.length - 1; i >= 1; i--) {
    const next = step;
    step = (s, c) => {
      if (c === word.charCodeAt(i)) {
        s.step = next;
        return true;
      }
      return fail(s, c, `in literal ${word} (expecting '${word[i]}')`);
    };
  }
  return step;
};
const T = literalAfterFirstLetter('true');
const F = literalAfterFirstLetter('false');
const N = literalAfterFirstLetter('null');

function beginValueOrEmpty(s: Scanner, c: number): boolean {
  if (isSpace(c)) return true;
  if (c === 0x5d) return endValue(s, c);
  return beginValue(s, c);
}

function beginValue(s: Scanner, c: number): boolean {
  if (isSpace(c)) return true;
  switch (c) {
    case 0x7b:
      return push(s, c, OBJECT_KEY, beginStringOrEmpty);
    case 0x5b:
      return push(s, c, ARRAY_VALUE, beginValueOrEmpty);
    case 0x22:
      s.step = inString;
      return true;
    case 0x2d:
      s.step = neg;
      return true;
    case 0x30:
      s.step = zero;
      return true;
    case 0x74:
      s.step = T;
      return true;
    case 0x66:
      s.step = F;
      return true;
    case 0x6e:
      s.step = N;
      return true;
  }
  if (c >= 0x31 && c <= 0x39) {
    s.step = one;
    return true;
  }
  return fail(s, c, 'looking for beginning of value');
}

function beginStringOrEmpty(s: Scanner, c: number): boolean {
  if (isSpace(c)) return true;
  if (c === 0x7d) {
    s.stack[s.stack.length - 1] = OBJECT_VALUE;
    return endValue(s, c);
  }
  return beginString(s, c);
}

function beginString(s: Scanner, c: number): boolean {
  if (isSpace(c)) return true;
  if (c === 0x22) {
    s.step = inString;
    return true;
  }
  return fail(s, c, 'looking for beginning of object key string');
}

function endValue(s: Scanner, c: number): boolean {
  const n = s.stack.length;
  if (n === 0) {
    s.step = endTop;
    s.endTop = true;
    return endTop(s, c);
  }
  if (isSpace(c)) {
    s.step = endValue;
    return true;
  }
  switch (s.stack[n - 1]) {
    case OBJECT_KEY:
      if (c === 0x3a) {
        s.stack[n - 1] = OBJECT_VALUE;
        s.step = beginValue;
        return true;
      }
      return fail(s, c, 'after object key');
    case OBJECT_VALUE:
      if (c === 0x2c) {
        s.stack[n - 1] = OBJECT_KEY;
        s.step = beginString;
        return true;
      }
      if (c === 0x7d) {
        pop(s);
        return true;
      }
      return fail(s, c, 'after object key:value pair');
    default:
      if (c === 0x2c) {
        s.step = beginValue;
        return true;
      }
      if (c === 0x5d) {
        pop(s);
        return true;
      }
      return fail(s, c, 'after array element');
  }
}

function endTop(s: Scanner, c: number): boolean {
  return isSpace(c) || fail(s, c, 'after top-level value');
}

function inString(s: Scanner, c: number): boolean {
  if (c === 0x22) s.step = endValue;
  else if (c === 0x5c) s.step = inStringEsc;
  else if (c < 0x20) return fail(s, c, 'in string literal');
  return true;
}

function inStringEsc(s: Scanner, c: number): boolean {
  if ('bfnrt\\/"'.includes(String.fromCharCode(c))) {
    s.step = inString;
    return true;
  }
  if (c === 0x75) {
    s.step = hexDigits(4);
    return true;
  }
  return fail(s, c, 'in string escape code');
}

function hexDigits(left: number): Step {
  return (s, c) => {
    if (!isHex(c)) return fail(s, c, 'in \\u hexadecimal character escape');
    s.step = left === 1 ? inString : hexDigits(left - 1);
    return true;
  };
}

function neg(s: Scanner, c: number): boolean {
  if (c === 0x30) s.step = zero;
  else if (c >= 0x31 && c <= 0x39) s.step = one;
  else return fail(s, c, 'in numeric literal');
  return true;
}

function one(s: Scanner, c: number): boolean {
  if (isDigit(c)) return true;
  return zero(s, c);
}

function zero(s: Scanner, c: number): boolean {
  if (c === 0x2e) s.step = dot;
  else if (c === 0x65 || c === 0x45) s.step = exponent;
  else return endValue(s, c);
  return true;
}

function dot(s: Scanner, c: number): boolean {
  if (!isDigit(c)) return fail(s, c, 'after decimal point in numeric literal');
  s.step = dotDigits;
  return true;
}

function dotDigits(s: Scanner, c: number): boolean {
  if (isDigit(c)) return true;
  if (c === 0x65 || c === 0x45) {
    s.step = exponent;
    return true;
  }
  return endValue(s, c);
}

function exponent(s: Scanner, c: number): boolean {
  if (c === 0x2b || c === 0x2d) {
    s.step = exponentSign;
    return true;
  }
  return exponentSign(s, c);
}

function exponentSign(s: Scanner, c: number): boolean {
  if (!isDigit(c)) return fail(s, c, 'in exponent of numeric literal');
  s.step = exponentDigits;
  return true;
}

function exponentDigits(s: Scanner, c: number): boolean {
  return isDigit(c) || endValue(s, c);
}

/** Go's checkValid: the first syntax error and the bytes read when it was found, or undefined. */
export function goSyntaxError(bytes: Uint8Array): { message: string; offset: number } | undefined {
  const s: Scanner = { step: beginValue, stack: [], endTop: false, bytes: 0 };
  for (const c of bytes) {
    s.bytes++;
    if (!s.step(s, c)) return s.err;
  }
  // Go's eof(): a value may end only at the end of the input (a number), or not at all.
  if (s.endTop) return undefined;
  s.step(s, 0x20);
  if (s.endTop) return undefined;
  return s.err ?? { message: 'unexpected end of JSON input', offset: s.bytes };
}

// ---- gjson's path syntax, the part scripts use ----

/** A selector the runner does not evaluate: the caller refuses the call (exit 107), never a guess. */
export class UnsupportedSelector extends Error {}

interface Component {
  key: string;
  /** a pattern with * and ? (gjson's wildcards), when the key has unescaped ones */
  glob?: RegExp;
}

function components(selector: string): Component[] {
  if (/^[[{!@]/.test(selector) || selector.startsWith('..')) throw new UnsupportedSelector(selector);
  const out: Component[] = [];
  let key = '';
  let pattern = '';
  let wild = false;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i] as string;
    if (ch === '\\' && i + 1 < selector.length) {
      const next = selector[++i] as string;
      key += next;
      pattern += next.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else if (ch === '.') {
      out.push(wild ? { key, glob: new RegExp(`^${pattern}$`, 's') } : { key });
      [key, pattern, wild] = ['', '', false];
    } else if (
      ch === '|' ||
      ((ch === '@' || ch === '#') && key === '' && selector[i + 1] === '(') ||
      (ch === '@' && key === '')
    ) {
      throw new UnsupportedSelector(selector);
    } else {
      key += ch;
      if (ch === '*' || ch === '?') {
        wild = true;
        pattern += ch === '*' ? '.*' : '.';
      } else pattern += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  out.push(wild ? { key, glob: new RegExp(`^${pattern}$`, 's') } : { key });
  return out;
}

const NOT_FOUND = Symbol('not found');

function walk(value: unknown, path: readonly Component[], i: number): unknown {
  if (i === path.length) return value;
  const c = path[i] as Component;
  if (Array.isArray(value)) {
    if (c.key === '#' && !c.glob) {
      if (i + 1 === path.length) return value.length;
      // '#.rest': the rest of the path on every element, those that have it
      return value.map((v) => walk(v, path, i + 1)).filter((v) => v !== NOT_FOUND);
    }
    if (c.glob || !/^\d+$/.test(c.key)) return NOT_FOUND;
    const at = Number(c.key);
    return at < value.length ? walk(value[at], path, i + 1) : NOT_FOUND;
  }
  if (value === null || typeof value !== 'object') return NOT_FOUND;
  const object = value as Record<string, unknown>;
  if (c.glob) {
    const { glob } = c;
    const key = Object.keys(object).find((k) => glob.test(k));
    return key === undefined ? NOT_FOUND : walk(object[key], path, i + 1);
  }
  return Object.hasOwn(object, c.key) ? walk(object[c.key], path, i + 1) : NOT_FOUND;
}

/**
 * gjson.Get as k6 calls it: undefined where the path finds nothing or the body is not JSON.
 * Keys, `*` and `?` wildcards (the first key that matches), `\\` escapes, array indexes, `#` (an
 * array's length) and `#.path` (the path on each element). Queries, modifiers, pipes and
 * multipaths throw UnsupportedSelector.
 */
export function selectJson(text: string, selector: string): unknown {
  if (selector === '') return undefined;
  const path = components(selector);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const found = walk(value, path, 0);
  return found === NOT_FOUND ? undefined : found;
}
