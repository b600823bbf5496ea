import type { Attributes, LogRecord } from '../../core/model/records.ts';
import { parseSeverity, type NumberKind, type Severity } from './severity.ts';

/**
 * One parsed JSON log object -> a canonical LogRecord, accepting the field names of
 * Logstash (`@timestamp`, `message`, `level`, `host.name`), Fluent Bit (`date`, `log`),
 * Vector (`timestamp`, `message`, `host`, `source_type`), pino/bunyan (`time`, `msg`,
 * `level`, `hostname`) and OTel-ish names. Everything not consumed becomes an attribute,
 * nested objects flattened with dots. Pure: errors are returned, never thrown.
 */

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9})\d*)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** RFC 3339 (a missing zone is read as UTC) -> Unix nanoseconds, keeping sub-ms digits. */
export function rfc3339Nanos(s: string): bigint | undefined {
  const m = RFC3339.exec(s.trim());
  if (!m) return undefined;
  let zone = m[4] ?? 'Z';
  if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone.toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = BigInt((m[3] ?? '').padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + frac;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two or four ASCII digits at `at` as a number; -1 if any is not a digit. */
function digitsAt(s: string, at: number, n: number): number {
  let x = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    x = x * 10 + d;
  }
  return x;
}

/**
 * The common case of rfc3339Nanos, `YYYY-MM-DDTHH:MM:SS[.f{1,}][Z]` in UTC from 1970, straight
 * to the decimal text of its Unix nanoseconds by char arithmetic (no regex, Date or BigInt:
 * they were a sixth of a JSON line's cost). Anything else (offsets, odd dates Date.parse rolls
 * over, spaces around) is undefined and goes the general way, which gives the same answer.
 */
export function utcNanosText(s: string): string | undefined {
  const len = s.length;
  if (len < 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return undefined;
  const t = s.charCodeAt(10);
  if ((t !== 84 && t !== 116 && t !== 32) || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58)
    return undefined;
  const y = digitsAt(s, 0, 4);
  const mo = digitsAt(s, 5, 2);
  const d = digitsAt(s, 8, 2);
  const h = digitsAt(s, 11, 2);
  const mi = digitsAt(s, 14, 2);
  const sec = digitsAt(s, 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
    return undefined;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!)) return undefined;
  // After the seconds: nothing, Z, or [.,]digits then nothing or Z.
  let end = len;
  const last = s.charCodeAt(len - 1);
  if (last === 90 || last === 122) end--;
  let frac = '000000000';
  if (end > 19) {
    const sep = s.charCodeAt(19);
    if ((sep !== 46 && sep !== 44) || end === 20) return undefined;
    for (let i = 20; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    // Digits past nanoseconds are dropped, as rfc3339Nanos does.
    frac = end - 20 >= 9 ? s.slice(20, 29) : s.slice(20, end) + ZEROS[29 - end];
  }
  // Days from civil (Howard Hinnant), years >= 1970 only, so all terms stay positive.
  const yy = mo <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  const seconds = days * 86400 + h * 3600 + mi * 60 + sec;
  // 0 seconds would need its leading zeros dropped; rare enough for the general way.
  if (seconds <= 0) return undefined;
  // Lines of one batch share their second: its decimal text is made once.
  if (seconds !== lastSeconds) [lastSeconds, lastSecondsText] = [seconds, String(seconds)];
  return lastSecondsText + frac;
}
const ZEROS = Array.from({ length: 9 }, (_, n) => '0'.repeat(n));
let lastSeconds = -1;
let lastSecondsText = '';

// Magnitude decides the unit: seconds until year ~5138, then ms, µs, ns.
const S_LIMIT = 100_000_000_000n;
const MS_LIMIT = S_LIMIT * 1000n;
const US_LIMIT = MS_LIMIT * 1000n;

/** Epoch seconds/ms/µs/ns as a decimal string (fraction allowed) -> Unix nanoseconds. */
export function epochNanos(s: string): bigint | undefined {
  const m = /^(\d{1,20})(?:\.(\d+))?$/.exec(s);
  if (!m) return undefined;
  const int = BigInt(m[1]!);
  const frac = m[2] ?? '';
  const scale = int < S_LIMIT ? 9 : int < MS_LIMIT ? 6 : int < US_LIMIT ? 3 : 0;
  const fracNanos = scale === 0 ? 0n : BigInt(frac.slice(0, scale).padEnd(scale, '0'));
  return int * 10n ** BigInt(scale) + fracNanos;
}

/** A timestamp field's value: RFC 3339 text, or epoch as a number or numeric string. */
export function parseTimestamp(value: unknown): bigint | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return undefined;
    if (Number.isInteger(value)) return epochNanos(BigInt(value).toString());
    // The shortest round-trip text keeps the digits the sender wrote (toFixed adds float noise).
    const text = String(value);
    return epochNanos(text.includes('e') ? value.toFixed(9) : text);
  }
  if (typeof value !== 'string') return undefined;
  return epochNanos(value.trim()) ?? rfc3339Nanos(value);
}

const TIME_KEYS = ['timestamp', '@timestamp', 'time', 'ts', 'date', 'timeUnixNano', 'time_unix_nano'];
const BODY_KEYS = ['body', 'message', 'msg', 'log', 'MESSAGE'];
const SEVERITY_KEYS: [string, NumberKind][] = [
  ['severity_text', 'otel'],
  ['severityText', 'otel'],
  ['severity', 'otel'],
  ['severity_number', 'otel'],
  ['severityNumber', 'otel'],
  ['level', 'pino'],
  ['log.level', 'otel'],
  ['loglevel', 'otel'],
  ['syslog.severity', 'syslog'],
  ['syslog_severity', 'syslog'],
];
const HOST_KEYS = ['host.name', 'host.hostname', 'hostname', 'host'];
const TRACE_KEYS = ['trace_id', 'traceId', 'trace.id', 'traceid'];
const SPAN_KEYS = ['span_id', 'spanId', 'span.id', 'spanid'];

type Value = string | number | boolean;

/**
 * The object is flattened once into parallel key/value lists (nested keys joined with dots;
 * arrays stay JSON text, nulls are dropped), and each key is looked up once in a table of the
 * well-known aliases. That replaced a Map per line probed for every alias of every field (~30
 * lookups a line, nearly all misses). A "slot" is one alias of one field; slots keep the alias
 * order, so the first alias present still wins. The lists are reused across calls (this is
 * synchronous), so a line allocates only what its record keeps.
 */
const SEVERITY_AT = TIME_KEYS.length;
const HOST_AT = SEVERITY_AT + SEVERITY_KEYS.length;
const TRACE_AT = HOST_AT + HOST_KEYS.length;
const SPAN_AT = TRACE_AT + TRACE_KEYS.length;
const SERVICE_AT = SPAN_AT + SPAN_KEYS.length;

/** Key -> its slots, for one list of service-name keys (the configured ones). */
type KeyIndex = Map<string, number[]>;
const indexes = new WeakMap<readonly string[], KeyIndex>();

let lastKeys: readonly string[] | undefined;
let lastIndex: KeyIndex | undefined;

function keyIndex(serviceKeys: readonly string[]): KeyIndex {
  if (serviceKeys === lastKeys) return lastIndex!;
  let index = indexes.get(serviceKeys);
  if (!index) {
    const all = [
      ...TIME_KEYS,
      ...SEVERITY_KEYS.map(([k]) => k),
      ...HOST_KEYS,
      ...TRACE_KEYS,
      ...SPAN_KEYS,
      ...serviceKeys,
    ];
    const built: KeyIndex = new Map();
    all.forEach((k, slot) => {
      const slots = built.get(k);
      if (slots) slots.push(slot);
      else built.set(k, [slot]);
    });
    indexes.set(serviceKeys, (index = built));
  }
  [lastKeys, lastIndex] = [serviceKeys, index];
  return index;
}

let keys: string[] = [];
let values: Value[] = [];
let count = 0;
/** Entry i was consumed by a field (it is not an attribute). */
let taken = new Uint8Array(64);
/** Slot -> entry index, -1 when the alias is absent. */
let at = new Int32Array(64);
/**
 * Key -> entry index, kept only once some key held a dot (or was empty): only then can two
 * paths flatten to the same key (`{"a.b": 1, "a": {"b": 2}}`).
 */
let positions: Map<string, number> | undefined;

function put(k: string, v: Value, index: KeyIndex): void {
  if (positions !== undefined) {
    // As a Map would: the later value replaces the earlier in its place.
    const i = positions.get(k);
    if (i !== undefined) {
      values[i] = v;
      return;
    }
    positions.set(k, count);
  }
  keys[count] = k;
  values[count] = v;
  const slots = index.get(k);
  if (slots !== undefined) for (const s of slots) at[s] = count;
  count++;
}

/**
 * `prefix.key`, the same string object each time: a fresh concatenation per line had to be
 * flattened and hashed for the alias lookup and interned again as an attribute key.
 */
const joins = new Map<string, Map<string, string>>();
let joinCount = 0;
function joined(prefix: string, key: string): string {
  let byKey = joins.get(prefix);
  if (byKey === undefined) joins.set(prefix, (byKey = new Map()));
  let k = byKey.get(key);
  if (k === undefined) {
    // Bounded: keys are data. Past the bound the cache starts over.
    if (++joinCount > 16_384) {
      joins.clear();
      joinCount = 1;
      joins.set(prefix, (byKey = new Map()));
    }
    byKey.set(key, (k = `${prefix}.${key}`));
  }
  return k;
}

function collect(obj: Record<string, unknown>, prefix: string, skip: string | undefined, index: KeyIndex) {
  for (const key in obj) {
    if (key === skip) continue;
    const v = obj[key];
    if (v === null || v === undefined) continue;
    if (positions === undefined && (key === '' || key.includes('.'))) {
      positions = new Map();
      for (let i = 0; i < count; i++) positions.set(keys[i]!, i);
    }
    const k = prefix ? joined(prefix, key) : key;
    if (typeof v === 'object') {
      if (Array.isArray(v)) put(k, JSON.stringify(v), index);
      else collect(v as Record<string, unknown>, k, undefined, index);
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') put(k, v, index);
  }
}

/** The entry an alias slot holds, or -1 when absent or already consumed. */
function entry(slot: number): number {
  const i = at[slot]!;
  return i >= 0 && taken[i] === 0 ? i : -1;
}

/** First present alias in [from, from + n): consumed and returned, or -1. */
function takeFirst(from: number, n: number): number {
  for (let s = from; s < from + n; s++) {
    const i = entry(s);
    if (i >= 0) {
      taken[i] = 1;
      return i;
    }
  }
  return -1;
}

const HEX = /^[0-9a-fA-F]+$/;

/** First alias in [from, from + n) holding hex of hexLength, lower-cased; others stay attributes. */
function takeId(from: number, n: number, hexLength: number): string | undefined {
  for (let s = from; s < from + n; s++) {
    const i = entry(s);
    if (i < 0) continue;
    const v = values[i];
    if (typeof v === 'string' && v.length === hexLength && HEX.test(v)) {
      taken[i] = 1;
      return v.toLowerCase();
    }
  }
  return undefined;
}

export interface NormalizeOptions {
  serviceNameAttributes: readonly string[];
  /** Used when the object has no timestamp; also the observed time. */
  nowNanos: bigint;
}

export type Normalized = { ok: true; record: LogRecord } | { ok: false; error: string };

export function normalizeJsonLog(obj: unknown, options: NormalizeOptions): Normalized {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    return {
      ok: false,
      error: `expected a JSON object, got ${Array.isArray(obj) ? 'an array' : typeof obj}`,
    };
  const o = obj as Record<string, unknown>;

  // The body is taken before flattening so that an object body stays one JSON value.
  for (const k of BODY_KEYS) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v === 'object' && k !== 'body') continue; // e.g. ECS `log: {level}` is not a body
    const body = typeof v === 'string' ? v : JSON.stringify(v);
    const index = keyIndex(options.serviceNameAttributes);
    const slots = SERVICE_AT + options.serviceNameAttributes.length;
    if (at.length < slots) at = new Int32Array(slots * 2);
    for (let s = 0; s < slots; s++) at[s] = -1;
    count = 0;
    positions = undefined;
    collect(o, '', k, index);
    if (taken.length < count) taken = new Uint8Array(count * 2);
    for (let i = 0; i < count; i++) taken[i] = 0;
    const result = finish(body, options);
    // A huge object's lists are not kept for the next line.
    if (keys.length > 1024) [keys, values, taken] = [[], [], new Uint8Array(64)];
    return result;
  }
  return { ok: false, error: `no body: expected one of ${BODY_KEYS.join(', ')}` };
}

// One request shares one observed time: its decimal text is made once, not per record.
let lastNow = -1n;
let lastNowText = '';
function nowText(n: bigint): string {
  if (n !== lastNow) [lastNow, lastNowText] = [n, n.toString()];
  return lastNowText;
}

const UNSPECIFIED: Severity = { number: 0, text: '' };

function finish(body: string, options: NormalizeOptions): Normalized {
  let time = options.nowNanos;
  let timeText: string | undefined;
  for (let s = 0; s < TIME_KEYS.length; s++) {
    const i = entry(s);
    if (i < 0) continue;
    const v = values[i]!;
    taken[i] = 1;
    timeText = typeof v === 'string' ? utcNanosText(v) : undefined;
    if (timeText !== undefined) break;
    const t = parseTimestamp(v);
    if (t === undefined)
      return {
        ok: false,
        error: `${TIME_KEYS[s]}: ${JSON.stringify(v)} is not an RFC 3339 time or epoch seconds/ms/µs/ns`,
      };
    time = t;
    break;
  }

  let severity = UNSPECIFIED;
  for (let s = 0; s < SEVERITY_KEYS.length; s++) {
    const i = entry(SEVERITY_AT + s);
    if (i < 0) continue;
    const v = values[i]!;
    const parsed = parseSeverity(v, SEVERITY_KEYS[s]![1]);
    if (parsed) {
      severity = parsed;
      taken[i] = 1;
      break;
    }
    // An unknown level word is kept as the text, unspecified number, as OTel does.
    if (typeof v === 'string' && v.trim() !== '' && severity.text === '') {
      severity = { number: 0, text: v };
      taken[i] = 1;
    }
  }

  let serviceName = '';
  const serviceKeys = options.serviceNameAttributes.length;
  for (let s = 0; s < serviceKeys; s++) {
    const i = entry(SERVICE_AT + s);
    if (i < 0) continue;
    const v = values[i]!;
    if (v !== '' && typeof v !== 'boolean') {
      serviceName = String(v);
      taken[i] = 1;
      break;
    }
  }
  const hostAt = takeFirst(HOST_AT, HOST_KEYS.length);
  const host = hostAt < 0 ? '' : String(values[hostAt]);
  const resource: Attributes =
    serviceName && host
      ? { 'service.name': serviceName, 'host.name': host }
      : serviceName
        ? { 'service.name': serviceName }
        : host
          ? { 'host.name': host }
          : {};

  const traceId = takeId(TRACE_AT, TRACE_KEYS.length, 32);
  const spanId = takeId(SPAN_AT, SPAN_KEYS.length, 16);

  const attributes: Attributes = {};
  for (let i = 0; i < count; i++) {
    if (taken[i] === 1) continue;
    const v = values[i]!;
    attributes[keys[i]!] = typeof v === 'string' ? v : String(v);
  }

  const observed = nowText(options.nowNanos);
  const record: LogRecord = {
    timeUnixNano: timeText ?? (time === options.nowNanos ? observed : time.toString()),
    observedTimeUnixNano: observed,
    severityNumber: severity.number,
    severityText: severity.text,
    body,
    resource,
    attributes,
    serviceName,
  };
  if (traceId) record.traceId = traceId;
  if (spanId) record.spanId = spanId;
  return { ok: true, record };
}
