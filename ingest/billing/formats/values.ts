import { DateNormalizer, checkDecimal } from '../focus.ts';
import type { NativeRecord, NativeValue } from './types.ts';

/**
 * Value helpers shared by the provider mappings: text of a native value, exact decimal
 * arithmetic on decimal text (BigInt, never a JS float), the date spellings the exports use.
 */

/** A scalar as text; '' and the null spellings as undefined. Objects/arrays are not scalars. */
export function text(v: NativeValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') return undefined;
  return v === '' || v === 'NULL' || v === 'null' ? undefined : v;
}

/** `rec[path]`, else the dotted path through nested records (GCP's `service.description`). */
export function at(rec: NativeRecord, path: string): NativeValue | undefined {
  const flat = rec[path];
  if (flat !== undefined) return flat;
  let cur: NativeValue | undefined = rec;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

export const textAt = (rec: NativeRecord, path: string) => text(at(rec, path));

interface Dec {
  units: bigint;
  scale: number;
}

const DEC_RE = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3}))?$/;

function parseDec(v: string): Dec | undefined {
  const m = DEC_RE.exec(v.trim());
  if (!m || (!m[2] && !m[3])) return undefined;
  const frac = m[3] ?? '';
  let units = BigInt((m[2] || '0') + frac);
  let scale = frac.length - Number(m[4] ?? 0);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: m[1] === '-' ? -units : units, scale };
}

function formatDec({ units, scale }: Dec): string {
  const neg = units < 0n;
  let digits = (neg ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '');
  }
  return neg && digits !== '0' ? `-${digits}` : digits;
}

/** Exact sum of decimal texts (signs as given); undefined if one is not a decimal. */
export function addDecimals(terms: readonly string[], negate: readonly boolean[] = []): string | undefined {
  const parsed: Dec[] = [];
  for (const t of terms) {
    const d = parseDec(t);
    if (!d) return undefined;
    parsed.push(d);
  }
  const scale = Math.max(0, ...parsed.map((d) => d.scale));
  let units = 0n;
  parsed.forEach((d, i) => {
    const u = d.units * 10n ** BigInt(scale - d.scale);
    units += negate[i] ? -u : u;
  });
  return formatDec({ units, scale });
}

/** Decimal text divided by 10^k, exactly. */
export function shiftDecimal(v: string, k: number): string | undefined {
  const d = parseDec(v);
  return d && formatDec({ units: d.units, scale: d.scale + k });
}

/**
 * An unscaled integer (Parquet DECIMAL) as decimal text. A safe-integer number gives the same
 * text as its BigInt (String() of both is the plain digits) without the BigInt.
 */
export function unscaledToText(units: bigint | number, scale: number): string {
  if (typeof units === 'bigint') return formatDec({ units, scale });
  const neg = units < 0;
  let digits = String(neg ? -units : units);
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '');
  }
  return neg && digits !== '0' ? `-${digits}` : digits;
}

/**
 * A double as the shortest text that reads back as the same double (JS's own rule), written
 * without an exponent so it is plain decimal text like the CSV path's.
 */
export function doubleToText(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return formatDec(parseDec(s)!);
}

/** A money/quantity value: the reason it is not a usable decimal, or undefined. */
export function decimalProblem(v: string): string | undefined {
  return checkDecimal(v);
}

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(.*)$/;

/**
 * ISO 8601 UTC text from what billing exports write: ISO 8601 (also without seconds, OCI's
 * `2023-11-13T10:00Z`), BigQuery's `2024-09-18 10:00:00 UTC`, and Azure's M/D/YYYY.
 */
export class DateReader {
  private iso = new DateNormalizer();
  read(v: string): string | undefined {
    let s = v.trim();
    if (s.endsWith(' UTC')) s = `${s.slice(0, -4)}Z`;
    const us = US_DATE.exec(s);
    if (us) s = `${us[3]}-${us[1]!.padStart(2, '0')}-${us[2]!.padStart(2, '0')}${us[4]}`;
    return this.iso.normalize(s);
  }
}

/** ISO text + whole days / months (UTC), for exclusive period ends. */
export function addDays(iso: string, days: number): string {
  return new Date(Date.parse(iso) + days * 86_400_000).toISOString();
}

export function monthStart(iso: string, plusMonths = 0): string {
  const d = new Date(iso);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + plusMonths, 1)).toISOString();
}

/** Tags text: a JSON object, or Azure's `"k": "v",...` without the outer braces. */
export function tagsFromJsonText(v: string): Record<string, string> | string {
  const t = v.trim();
  const json = t.startsWith('{') ? t : `{${t}}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'not a JSON object';
  return stringMap(parsed as Record<string, unknown>);
}

export function stringMap(obj: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj))
    if (val !== null && val !== undefined) out[k] = typeof val === 'string' ? val : JSON.stringify(val);
  return out;
}

export const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

/** Thrown inside a mapper for a bad record; the mapper returns its message. */
export class RowProblem extends Error {}

/** Checked reads of one record's values: a bad value throws RowProblem naming the column. */
export class Checked {
  readonly dates = new DateReader();

  /** Decimal text, exact; `fallback` when empty, else a problem. */
  decimal(v: string | undefined, column: string, fallback?: string): string {
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new RowProblem(`${column} is empty`);
    }
    const t = v.trim();
    const bad = checkDecimal(t);
    if (bad) throw new RowProblem(`${column} = ${JSON.stringify(clip(v))}: ${bad}`);
    return t;
  }

  optionalDecimal(v: string | undefined, column: string): string | undefined {
    return v === undefined ? undefined : this.decimal(v, column);
  }

  date(v: string | undefined, column: string): string {
    if (v === undefined) throw new RowProblem(`${column} is empty`);
    const iso = this.dates.read(v);
    if (iso === undefined) throw new RowProblem(`${column} = ${JSON.stringify(clip(v))}: not a date`);
    return iso;
  }

  sum(terms: string[], column: string, negate?: boolean[]): string {
    const s = addDecimals(terms, negate);
    if (s === undefined) throw new RowProblem(`${column}: not decimal numbers (${terms.join(', ')})`);
    return s;
  }
}

/** Runs a mapping, turning a RowProblem into the record's reason. */
export function guarded<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RowProblem) return err.message;
    throw err;
  }
}

/** Column names that must all be present: 0 when one is missing, else the share of `signature`. */
export function score(
  columns: readonly string[],
  required: readonly string[],
  signature: readonly string[],
): number {
  const have = new Set(columns);
  if (!required.every((c) => have.has(c))) return 0;
  return signature.length ? signature.filter((c) => have.has(c)).length / signature.length : 1;
}
