/**
 * Parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text. Hand-written
 * (one pass over the string, no regexes per line) because every scrape goes through it. It never
 * throws: a malformed line becomes an error with its line number and the rest is kept, as the
 * issue asks (Prometheus itself would drop the whole scrape).
 */

export type FamilyType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'gaugehistogram'
  | 'summary'
  | 'info'
  | 'stateset'
  | 'untyped'
  | 'unknown';

export interface Sample {
  /** The full sample name, e.g. `http_requests_total` or `latency_seconds_bucket`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Unix milliseconds (OpenMetrics' seconds are converted); undefined when the line has none. */
  timestampMs: number | undefined;
  line: number;
}

export interface Family {
  name: string;
  type: FamilyType;
  help: string;
  unit: string;
  samples: Sample[];
}

export interface LineError {
  line: number;
  message: string;
}

export interface Exposition {
  families: Family[];
  errors: LineError[];
  /** Sample lines seen, good and bad. */
  sampleLines: number;
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

const TYPES = new Set<string>([
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
  'untyped',
  'unknown',
]);

/** Suffixes a family's samples may carry beyond the family name, by type. */
const SUFFIXES: Record<FamilyType, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['_sum', '_count', '_created'],
  info: ['_info'],
  stateset: [],
  untyped: [],
  unknown: [],
};

/** Which format a scrape answered in, from its Content-Type. */
export function formatOf(contentType: string | null): ExpositionFormat {
  return contentType?.toLowerCase().startsWith('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
}

/** Thrown inside a line and caught per line; not an Error, so no stack is captured per bad line. */
class LineFault {
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new LineFault(message);
}

const isNameStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
const isNameChar = (c: number) => isNameStart(c) || (c >= 48 && c <= 57);
const isLabelStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isLabelChar = (c: number) => isLabelStart(c) || (c >= 48 && c <= 57);
const SPACE = 32;
const TAB = 9;

/** A float as Prometheus writes them: Go's ParseFloat plus NaN / [+-]Inf in any case. */
export function parseValue(token: string): number {
  if (token === '') return Number.NaN;
  // Fast path for plain decimals; Number() alone would also take "0x1F", "0b1" and "0o7".
  const n = Number(token);
  if (!Number.isNaN(n)) {
    const second = token.charCodeAt(1) | 0x20;
    return token.charCodeAt(0) === 48 && (second === 120 || second === 98 || second === 111) ? Number.NaN : n;
  }
  const lower = token.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === 'inf' || lower === '+inf') return Infinity;
  return lower === '-inf' ? -Infinity : Number.NaN;
}

const isNaNToken = (t: string) => t.length === 3 && t.toLowerCase() === 'nan';

export function parseExposition(text: string, format: ExpositionFormat = 'prometheus'): Exposition {
  const om = format === 'openmetrics';
  const families: Family[] = [];
  const byName = new Map<string, Family>();
  const errors: LineError[] = [];
  let sampleLines = 0;
  let current: Family | undefined;
  let eofLine = 0;
  let lineNo = 0;
  let pos = 0;
  const len = text.length;

  const family = (name: string, type: FamilyType): Family => {
    let f = byName.get(name);
    if (!f) {
      f = { name, type, help: '', unit: '', samples: [] };
      byName.set(name, f);
      families.push(f);
    }
    return f;
  };

  /** The family a sample belongs to: the current one if the name fits, else by name, else its own. */
  const familyOf = (name: string): Family => {
    if (current && belongs(current, name)) return current;
    const exact = byName.get(name);
    if (exact && belongs(exact, name)) return exact;
    for (const suffix of ['_total', '_created', '_bucket', '_sum', '_count', '_gcount', '_gsum', '_info']) {
      if (!name.endsWith(suffix)) continue;
      const f = byName.get(name.slice(0, -suffix.length));
      if (f && belongs(f, name)) return f;
    }
    return family(name, om ? 'unknown' : 'untyped');
  };

  while (pos < len) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = len;
    lineNo++;
    let lineEnd = end;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    const start = pos;
    pos = end + 1;
    if (eofLine) {
      if (lineEnd > start) errors.push({ line: lineNo, message: 'content after # EOF' });
      continue;
    }
    let i = start;
    while (i < lineEnd && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
    if (i === lineEnd) continue;
    try {
      if (text.charCodeAt(i) === 35 /* # */) {
        const line = text.slice(i, lineEnd);
        if (line === '# EOF' && om) {
          eofLine = lineNo;
          continue;
        }
        const d = directive(line);
        if (!d) continue; // a plain comment
        if (d.kind === 'TYPE') {
          const type = d.rest.toLowerCase();
          if (!TYPES.has(type)) fail(`unknown metric type "${d.rest}" for ${d.name}`);
          const f = byName.get(d.name);
          if (f && (f.type !== (om ? 'unknown' : 'untyped') || f.samples.length > 0))
            fail(`TYPE for ${d.name} after its samples or a second TYPE`);
          current = family(d.name, type as FamilyType);
          current.type = type as FamilyType;
        } else {
          current = family(d.name, om ? 'unknown' : 'untyped');
          if (d.kind === 'HELP') current.help = unescapeHelp(d.rest);
          else current.unit = d.rest;
        }
        continue;
      }
      sampleLines++;
      const s = parseSample(text, i, lineEnd, lineNo, om);
      const f = familyOf(s.name);
      current = f;
      f.samples.push(s);
    } catch (err) {
      if (!(err instanceof LineFault)) throw err;
      errors.push({ line: lineNo, message: err.message });
    }
  }
  if (om && !eofLine)
    errors.push({ line: lineNo, message: 'OpenMetrics exposition does not end with # EOF' });
  return { families, errors, sampleLines };
}

function belongs(f: Family, name: string): boolean {
  if (name === f.name) return true;
  if (!name.startsWith(f.name)) return false;
  const suffix = name.slice(f.name.length);
  return SUFFIXES[f.type].includes(suffix);
}

/** `# HELP name text`, `# TYPE name type`, `# UNIT name unit`; undefined for other comments. */
function directive(line: string): { kind: 'HELP' | 'TYPE' | 'UNIT'; name: string; rest: string } | undefined {
  let i = 1;
  while (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB) i++;
  const kind = line.slice(i, i + 4);
  if (kind !== 'HELP' && kind !== 'TYPE' && kind !== 'UNIT') return undefined;
  i += 4;
  if (i < line.length && line.charCodeAt(i) !== SPACE && line.charCodeAt(i) !== TAB) return undefined;
  while (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB) i++;
  const nameStart = i;
  while (i < line.length && isNameChar(line.charCodeAt(i))) i++;
  const name = line.slice(nameStart, i);
  if (name === '' || !isNameStart(name.charCodeAt(0))) fail(`# ${kind} without a valid metric name`);
  if (i < line.length && line.charCodeAt(i) !== SPACE && line.charCodeAt(i) !== TAB)
    fail(`invalid character in metric name after "${name}"`);
  while (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB) i++;
  let rest = line.slice(i);
  if (kind !== 'HELP') rest = rest.trimEnd();
  if (kind === 'TYPE' && rest === '') fail(`# TYPE ${name} without a type`);
  return { kind, name, rest };
}

function unescapeHelp(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === '\\' || c === '"' ? c : `\\${c}`));
}

function parseSample(text: string, i: number, end: number, line: number, om: boolean): Sample {
  let name: string;
  const labels: Record<string, string> = {};
  let c = text.charCodeAt(i);
  if (isNameStart(c)) {
    const start = i;
    while (i < end && isNameChar(text.charCodeAt(i))) i++;
    name = text.slice(start, i);
  } else if (c === 123 /* { */) {
    name = ''; // Prometheus 3's quoted form: {"name", label="v"}
  } else {
    fail(`expected a metric name, found ${JSON.stringify(text[i])}`);
  }
  let j = i;
  while (j < end && (text.charCodeAt(j) === SPACE || text.charCodeAt(j) === TAB)) j++;
  if (text.charCodeAt(j) === 123 && j < end) {
    i = j + 1;
    for (;;) {
      while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
      if (i >= end) fail('unterminated label set');
      c = text.charCodeAt(i);
      if (c === 125 /* } */) {
        i++;
        break;
      }
      let label: string;
      if (c === 34 /* " */) {
        [label, i] = quoted(text, i + 1, end);
        while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
        if (name === '' && text.charCodeAt(i) !== 61) {
          name = label; // the quoted metric name
          if (text.charCodeAt(i) === 44) i++;
          continue;
        }
      } else {
        if (!isLabelStart(c)) fail(`invalid label name at column ${i + 1 - lineStart(text, i)} of ${name}`);
        const start = i;
        while (i < end && isLabelChar(text.charCodeAt(i))) i++;
        label = text.slice(start, i);
        while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
      }
      if (text.charCodeAt(i) !== 61 /* = */ || i >= end) fail(`expected = after label name ${label}`);
      i++;
      while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
      if (text.charCodeAt(i) !== 34 || i >= end) fail(`expected a quoted value for label ${label}`);
      let value: string;
      [value, i] = quoted(text, i + 1, end);
      if (Object.hasOwn(labels, label)) fail(`duplicate label ${label}`);
      labels[label] = value;
      while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
      c = text.charCodeAt(i);
      if (c === 44 /* , */ && i < end) i++;
      else if (c !== 125 || i >= end) fail(`expected , or } after the value of label ${label}`);
    }
  }
  if (name === '') fail('sample without a metric name');
  // value
  const sep = i;
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  if (i === sep)
    fail(i >= end ? `sample ${name} without a value` : `invalid character in metric name ${name}`);
  let start = i;
  while (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) i++;
  const token = text.slice(start, i);
  if (token === '') fail(`sample ${name} without a value`);
  const value = parseValue(token);
  if (Number.isNaN(value) && !isNaNToken(token)) fail(`invalid value ${JSON.stringify(token)} for ${name}`);
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  let timestampMs: number | undefined;
  if (i < end && text.charCodeAt(i) !== 35) {
    start = i;
    while (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) i++;
    const ts = text.slice(start, i);
    const n = parseValue(ts);
    if (!Number.isFinite(n)) fail(`invalid timestamp ${JSON.stringify(ts)} for ${name}`);
    if (om) timestampMs = n * 1000;
    else if (!Number.isInteger(n))
      fail(`invalid timestamp ${JSON.stringify(ts)} for ${name}: integer milliseconds`);
    else timestampMs = n;
    while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  }
  // What follows may only be an OpenMetrics exemplar (" # {...} value [ts]"), which is not stored.
  if (i < end && (text.charCodeAt(i) !== 35 || !om))
    fail(`unexpected ${JSON.stringify(text.slice(i, Math.min(end, i + 20)))} after the value of ${name}`);
  return { name, labels, value, timestampMs, line };
}

function lineStart(text: string, i: number): number {
  return text.lastIndexOf('\n', i) + 1;
}

/** A quoted string from just after its opening quote: [unescaped, index after the closing quote]. */
function quoted(text: string, i: number, end: number): [string, number] {
  const start = i;
  let out: string | undefined;
  let chunk = i;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const value = out === undefined ? text.slice(start, i) : out + text.slice(chunk, i);
      return [value, i + 1];
    }
    if (c === 92 /* \ */) {
      const n = text.charCodeAt(i + 1);
      const rep = n === 110 ? '\n' : n === 92 ? '\\' : n === 34 ? '"' : undefined;
      if (rep === undefined || i + 1 >= end) fail(`invalid escape \\${text[i + 1] ?? ''} in a label value`);
      out = (out ?? '') + text.slice(chunk, i) + rep;
      i++;
      chunk = i + 1;
    }
  }
  fail('unterminated quoted string');
}
