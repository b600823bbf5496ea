import type { Attributes } from '../../core/model/records.ts';

/**
 * Reading OTLP values the same way whether they came from protobuf (protobufjs messages:
 * Long for 64-bit integers, Uint8Array for bytes, unset scalars as prototype defaults) or from
 * OTLP JSON (int64 as strings or numbers, trace/span ids as hex, enums as ints or names).
 * Only own properties count as "set": protobufjs keeps defaults on the prototype.
 */

// The structural shape shared by both decodings; fields are read defensively.
export type Msg = Record<string, unknown>;

const own = Object.prototype.hasOwnProperty;

export function has(m: Msg, field: string): boolean {
  return own.call(m, field) && m[field] !== undefined && m[field] !== null;
}

export function msg(v: unknown): Msg | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Msg) : undefined;
}

export function list(v: unknown): Msg[] {
  if (!Array.isArray(v)) return [];
  // Decoded protobuf is always objects: check rather than copy on the hot path.
  for (const x of v as unknown[]) if (!msg(x)) return (v as unknown[]).map((y) => msg(y) ?? {});
  return v as Msg[];
}

export function str(m: Msg, field: string): string {
  const v = has(m, field) ? m[field] : '';
  return typeof v === 'string' ? v : String(v);
}

/** A protobufjs Long, as far as this file cares. */
interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toString(): string;
}

function isLong(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && 'low' in v && 'high' in v;
}

// Points of one request mostly share their timestamps: remember the last conversion.
let lastLow = 0;
let lastHigh = 0;
let lastText = '0';

/** An unsigned Long as decimal text, without Long's slow toString. */
function longText(v: LongLike): string {
  if (v.low === lastLow && v.high === lastHigh) return lastText;
  const text =
    v.high === 0 ? String(v.low >>> 0) : ((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
  lastLow = v.low;
  lastHigh = v.high;
  lastText = text;
  return text;
}

/** A field's value for an error message (Longs as their number). */
export function show(v: unknown): string {
  return isLong(v) ? v.toString() : (JSON.stringify(v) ?? String(v));
}

/** DateTime64(9) ends in 2262: later nanoseconds are refused here rather than by the writer. */
const MAX_NANOS = 2n ** 63n - 1n;

/**
 * A Unix-nanoseconds field (fixed64) as a decimal string: '0' when unset, undefined when not
 * an unsigned integer or past 2262.
 */
export function u64(m: Msg, field: string): string | undefined {
  if (!has(m, field)) return '0';
  const v = m[field];
  let text: string | undefined;
  if (isLong(v)) text = longText(v);
  else if (typeof v === 'number') text = Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  else if (typeof v === 'string') text = /^\d{1,20}$/.test(v) ? BigInt(v).toString() : undefined;
  else if (typeof v === 'bigint') text = v >= 0n ? v.toString() : undefined;
  // Up to 18 digits is always in range; only longer ones need the exact comparison.
  return text !== undefined && (text.length < 19 || BigInt(text) <= MAX_NANOS) ? text : undefined;
}

/** A signed or unsigned 64-bit integer as a JS number (counts and int values fit in practice). */
export function int64(v: unknown): number | undefined {
  if (isLong(v)) {
    if (v.high === 0) return v.low >>> 0;
    return Number(BigInt.asIntN(v.unsigned ? 65 : 64, BigInt(longText(v))));
  }
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** A signed 64-bit integer as exact decimal text. */
function intText(v: unknown): string {
  if (isLong(v)) return v.toString();
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v).toString();
  return String(v);
}

/** A double: protobuf gives numbers, proto3 JSON may give "NaN", "Infinity", "-Infinity". */
export function double(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

/** An enum field: an int, or (JSON) the enum value's name looked up in `names`. */
export function enumValue(m: Msg, field: string, names: readonly string[]): number | undefined {
  if (!has(m, field)) return 0;
  const v = m[field];
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const i = names.indexOf(v);
    if (i >= 0) return i;
    if (/^\d+$/.test(v)) return Number(v);
  }
  return undefined;
}

/**
 * A trace or span id as lowercase hex: bytes from protobuf, hex from JSON. Empty when unset;
 * undefined when malformed (wrong length or not hex).
 */
export function id(m: Msg, field: string, bytes: 8 | 16): string | undefined {
  if (!has(m, field)) return '';
  const v = m[field];
  if (v instanceof Uint8Array) {
    if (v.length === 0) return '';
    return v.length === bytes ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex') : undefined;
  }
  if (typeof v === 'string') {
    if (v === '') return '';
    return v.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(v) ? v.toLowerCase() : undefined;
  }
  return undefined;
}

/**
 * An AnyValue as the string the exporter's tables hold: strings as they are, numbers and bools
 * as text, bytes as base64, arrays and kvlists as JSON.
 */
export function anyToString(v: unknown): string {
  const m = msg(v);
  if (!m) return '';
  if (has(m, 'stringValue')) return str(m, 'stringValue');
  if (has(m, 'intValue')) return intText(m.intValue);
  const plain = anyToJson(m);
  return typeof plain === 'string' ? plain : JSON.stringify(plain);
}

function anyToJson(m: Msg): unknown {
  if (has(m, 'stringValue')) return str(m, 'stringValue');
  if (has(m, 'boolValue')) return m.boolValue === true || m.boolValue === 'true';
  if (has(m, 'intValue')) {
    // Exact as text; as a JSON number (inside arrays and kvlists) only where that is exact too.
    const exact = intText(m.intValue);
    const n = Number(exact);
    return Number.isSafeInteger(n) ? n : exact;
  }
  if (has(m, 'doubleValue')) {
    const d = double(m.doubleValue);
    // JSON has no NaN/Infinity: keep their names rather than turning them into null.
    return d === undefined || Number.isFinite(d) ? d : String(d);
  }
  if (has(m, 'bytesValue')) {
    const b = m.bytesValue;
    return b instanceof Uint8Array ? Buffer.from(b).toString('base64') : String(b);
  }
  if (has(m, 'arrayValue')) return list(msg(m.arrayValue)?.values).map(anyToJson);
  if (has(m, 'kvlistValue')) {
    const out: Record<string, unknown> = {};
    for (const kv of list(msg(m.kvlistValue)?.values)) out[str(kv, 'key')] = anyToJson(msg(kv.value) ?? {});
    return out;
  }
  return null;
}

/** KeyValue[] -> a flat string map; a later duplicate key wins, as in the collector. */
export function attributes(v: unknown, into: Attributes = {}): Attributes {
  for (const kv of list(v)) {
    const key = typeof kv.key === 'string' ? kv.key : str(kv, 'key');
    // The common case first, with static property names (the hot path of every point).
    const value = kv.value as Msg | undefined;
    into[key] =
      value && own.call(value, 'stringValue') && typeof value.stringValue === 'string'
        ? value.stringValue
        : anyToString(value);
  }
  return into;
}

export function scopeOf(v: unknown): { name: string; version: string } | undefined {
  const m = msg(v);
  if (!m) return undefined;
  return { name: str(m, 'name'), version: str(m, 'version') };
}

/** Messages about rejected items, capped so one bad batch cannot make a huge response. */
export class Rejections {
  count = 0;
  private readonly messages: string[] = [];
  private more = 0;

  constructor(private readonly max = 5) {}

  add(n: number, message: string): void {
    if (n <= 0) return;
    this.count += n;
    if (this.messages.length < this.max) this.messages.push(message);
    else this.more++;
  }

  message(): string {
    const shown = this.messages.join('; ');
    return this.more > 0 ? `${shown}; and ${this.more} more` : shown;
  }
}
