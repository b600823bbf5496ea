import type { Readable } from 'node:stream';
import type { BillingLine } from '../../core/model/records.ts';
import { toUnixNanos } from '../../core/clickhouse/rowbinary.ts';
import { isCsvError, readCsv, readRecord } from './csv.ts';

/**
 * FOCUS 1.0–1.2 CSV -> BillingLine, streaming: ./csv.ts reads the file in chunks and this
 * yields batches, so a 1 GB export never sits in memory and the caller's awaited publish is
 * the backpressure. Money stays the file's decimal text (validated, never a JS number).
 *
 * Columns are matched by FOCUS name, case-insensitively (the spec's own examples spell
 * `SkuPriceid`). FOCUS columns billing_focus has no column for (ChargeClass, ChargeFrequency,
 * CommitmentDiscount*, PricingCategory, unit prices, the 1.1/1.2 additions), provider `x_`
 * extension columns and non-FOCUS columns (the sample's `Id`) are dropped: Tags stays the
 * provider's own tags. Nulls: empty, `NULL` and `null` (the sample and the spec use all three).
 */

export interface FocusProblem {
  /** 1-based line of the record's first line in the file. */
  line: number;
  reason: string;
  /** The record as read, column -> text, for the dead letter. */
  record: Record<string, string> | string[];
}

export interface FocusBatch {
  lines: BillingLine[];
  problems: FocusProblem[];
}

export interface FocusOptions {
  sourceName: string;
  sourceFile: string;
  batchSize?: number;
}

/** The whole file is unusable (no header, not FOCUS): named with the file. */
export class FocusFileError extends Error {}

type Field = Exclude<keyof BillingLine, 'SourceName' | 'SourceFile' | 'SourceLine'>;

/**
 * Every FOCUS column a line stores, in the order of the values array toBillingLine fills and
 * lineOf reads by position.
 */
const LINE_FIELDS = [
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
  'BillingCurrency',
  'BillingPeriodStart',
  'BillingPeriodEnd',
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'ChargeCategory',
  'ChargeDescription',
  'ProviderName',
  'PublisherName',
  'InvoiceIssuerName',
  'BillingAccountId',
  'BillingAccountName',
  'SubAccountId',
  'SubAccountName',
  'ServiceName',
  'ServiceCategory',
  'RegionId',
  'RegionName',
  'AvailabilityZone',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'SkuId',
  'SkuPriceId',
  'PricingUnit',
  'PricingQuantity',
  'ConsumedQuantity',
  'ConsumedUnit',
  'Tags',
] as const satisfies readonly Field[];

const DATES = ['BillingPeriodStart', 'BillingPeriodEnd', 'ChargePeriodStart', 'ChargePeriodEnd'] as const;

/** Without these the rows cannot be costed or placed in a billing period: the file is refused. */
export const REQUIRED_COLUMNS: readonly Field[] = [
  'BilledCost',
  'EffectiveCost',
  'BillingPeriodStart',
  'BillingPeriodEnd',
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'ChargeCategory',
];

/**
 * Non-nullable in FOCUS but absent from excerpts such as the spec's worked examples: a file
 * without the column still loads with these placeholders (XXX is ISO 4217's "no currency").
 * A file that has the column but a null in a row gets a dead letter instead.
 */
export const ABSENT_DEFAULTS: Partial<Record<Field, string>> = {
  ListCost: '0',
  BillingCurrency: 'XXX',
  ProviderName: 'unknown',
  ServiceName: 'unknown',
};

/** Required values: a null here is a bad row. */
const NOT_NULL = new Set<Field>([
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  ...DATES,
  'ChargeCategory',
  'BillingCurrency',
  'ProviderName',
  'ServiceName',
]);

const KNOWN = new Map<string, Field>(LINE_FIELDS.map((f) => [f.toLowerCase(), f]));

const isNull = (v: string | undefined): v is undefined | '' | 'NULL' | 'null' =>
  v === undefined || v === '' || v === 'NULL' || v === 'null';

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?$/;
/** Decimal(38, S) holds 38 - S integer digits; 20 keeps room for a finer scale than today's 10. */
const MAX_INT_DIGITS = 20;

const PLAIN = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;

export function checkDecimal(v: string): string | undefined {
  // Hot path: no exponent and too short to overflow.
  if (v.length <= MAX_INT_DIGITS && PLAIN.test(v)) return undefined;
  if (!DECIMAL.test(v)) return 'not a decimal number';
  const e = v.search(/[eE]/);
  const mantissa = (e < 0 ? v : v.slice(0, e)).replace(/^[+-]/, '');
  const intDigits = mantissa.split('.')[0]!.replace(/^0+/, '').length + (e < 0 ? 0 : Number(v.slice(e + 1)));
  return intDigits > MAX_INT_DIGITS ? `out of range (more than ${MAX_INT_DIGITS} integer digits)` : undefined;
}

/** ISO 8601 UTC text, or undefined. Exports repeat the same hours, so results are cached. */
class DateNormalizer {
  private cache = new Map<string, string | undefined>();
  /** Per column, the last text and its result: consecutive rows mostly repeat it. */
  private lastIn: string[] = [];
  private lastOut: (string | undefined)[] = [];
  /** normalize(v) for the value at CSV position `at`: an equal string costs no hashing. */
  normalizeAt(at: number, v: string): string | undefined {
    if (this.lastIn[at] === v) return this.lastOut[at];
    const out = this.normalize(v);
    this.lastIn[at] = v;
    this.lastOut[at] = out;
    return out;
  }
  normalize(v: string): string | undefined {
    let out = this.cache.get(v);
    if (out !== undefined || this.cache.has(v)) return out;
    const ns = toUnixNanos(v);
    // Bare digits would be read as Unix nanoseconds; FOCUS dates are always ISO 8601 text.
    out = ns === undefined || /^\d+$/.test(v) ? undefined : new Date(Number(ns / 1_000_000n)).toISOString();
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(v, out);
    return out;
  }
}

/**
 * parseTags with the results of recent texts kept: an export repeats a resource's tags on each
 * of its rows. The objects are shared between lines, so they are frozen (nothing downstream
 * changes a line's Tags; a change would throw rather than leak into other lines).
 */
export class TagsCache {
  private cache = new Map<string, Readonly<Record<string, string>> | string>();
  private lastIn = '';
  private lastOut: Readonly<Record<string, string>> | string = {};
  parse(v: string): Readonly<Record<string, string>> | string {
    if (v === this.lastIn) return this.lastOut;
    let out = this.cache.get(v);
    if (out === undefined) {
      out = parseTags(v);
      if (typeof out !== 'string') Object.freeze(out);
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(v, out);
    }
    this.lastIn = v;
    this.lastOut = out;
    return out;
  }
}

/** FOCUS Tags: a JSON object; non-string values kept as their JSON text. */
export function parseTags(v: string): Record<string, string> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return 'not a JSON object';
  const tags: Record<string, string> = {};
  for (const [k, val] of Object.entries(parsed as Record<string, unknown>))
    tags[k] = typeof val === 'string' ? val : JSON.stringify(val);
  return tags;
}

/** Distinct values kept per column before it counts as high-cardinality and is left alone. */
const MAX_INTERNED = 4096;

/** What one file's rows reuse from the rows before them. */
export class LineCaches {
  readonly dates = new DateNormalizer();
  readonly tags = new TagsCache();
  /** toBillingLine's field values, reused row after row (copied into each line). */
  readonly values: unknown[] = new Array<unknown>(SLOTS);
  /** Per CSV position: text -> the first string object seen with it (undefined: not interned). */
  private readonly interned: (Map<string, string> | undefined)[] = [];
  private readonly highCardinality: boolean[] = [];
  private readonly last: (string | undefined)[] = [];

  /**
   * One string object per distinct value of a low-cardinality column: the lines waiting in the
   * bus then share a few strings instead of holding one fresh copy each (less to keep alive
   * and promote), and the writer's LowCardinality dictionary finds them by cached hash.
   */
  text(at: number, v: string): string {
    // The previous row's value first: a compare costs less than hashing the new string.
    const last = this.last[at];
    if (last === v) return last;
    if (this.highCardinality[at]) return v;
    let m = this.interned[at];
    if (!m) this.interned[at] = m = new Map();
    const seen = m.get(v);
    if (seen !== undefined) return (this.last[at] = seen);
    if (m.size >= MAX_INTERNED) {
      this.highCardinality[at] = true;
      this.interned[at] = undefined;
    } else m.set(v, v);
    return (this.last[at] = v);
  }
}

/** The Tags of a line without any: one shared frozen object (the writer encodes it once). */
const NO_TAGS: Readonly<Record<string, string>> = Object.freeze({});

type Kind = 'skip' | 'decimal' | 'date' | 'tags' | 'text';

interface Header {
  names: string[];
  /** Field at each CSV position, or undefined for a dropped column. */
  fields: (Field | undefined)[];
  /** How each position is read, decided once per file rather than per value. */
  kinds: Kind[];
  /** Slot of each position's field in toBillingLine's values (-1: dropped). */
  slots: number[];
  absent: Field[];
}

export function readHeader(names: string[], file: string): Header {
  const fields = names.map((n) => KNOWN.get(n.trim().toLowerCase()));
  const present = new Set(fields.filter((f): f is Field => f !== undefined));
  const missing = REQUIRED_COLUMNS.filter((c) => !present.has(c));
  if (missing.length)
    throw new FocusFileError(`${file}: not a FOCUS file: header lacks ${missing.join(', ')}`);
  const absent = (Object.keys(ABSENT_DEFAULTS) as Field[]).filter((f) => !present.has(f));
  const kinds = fields.map((f): Kind =>
    f === undefined
      ? 'skip'
      : f === 'Tags'
        ? 'tags'
        : f.endsWith('Cost') || f.endsWith('Quantity')
          ? 'decimal'
          : f.endsWith('PeriodStart') || f.endsWith('PeriodEnd')
            ? 'date'
            : 'text',
  );
  const slots = fields.map((f) => (f === undefined ? -1 : SLOT.get(f)!));
  return { names, fields, kinds, slots, absent };
}

/** Position of each field in the values array toBillingLine fills before building the line. */
const SLOT = new Map<Field, number>(LINE_FIELDS.map((f, i) => [f, i]));
const SLOTS = SLOT.size;
const TAGS_SLOT = SLOT.get('Tags')!;

/**
 * The line from its field values: one object literal, so every line is built with its final
 * shape at once (property stores by a varying name were a large share of a row).
 */
function lineOf(v: unknown[], opts: FocusOptions, line: number): BillingLine {
  return {
    BilledCost: v[0] as BillingLine['BilledCost'],
    EffectiveCost: v[1] as BillingLine['EffectiveCost'],
    ListCost: v[2] as BillingLine['ListCost'],
    ContractedCost: v[3] as BillingLine['ContractedCost'],
    BillingCurrency: v[4] as BillingLine['BillingCurrency'],
    BillingPeriodStart: v[5] as BillingLine['BillingPeriodStart'],
    BillingPeriodEnd: v[6] as BillingLine['BillingPeriodEnd'],
    ChargePeriodStart: v[7] as BillingLine['ChargePeriodStart'],
    ChargePeriodEnd: v[8] as BillingLine['ChargePeriodEnd'],
    ChargeCategory: v[9] as BillingLine['ChargeCategory'],
    ChargeDescription: v[10] as BillingLine['ChargeDescription'],
    ProviderName: v[11] as BillingLine['ProviderName'],
    PublisherName: v[12] as BillingLine['PublisherName'],
    InvoiceIssuerName: v[13] as BillingLine['InvoiceIssuerName'],
    BillingAccountId: v[14] as BillingLine['BillingAccountId'],
    BillingAccountName: v[15] as BillingLine['BillingAccountName'],
    SubAccountId: v[16] as BillingLine['SubAccountId'],
    SubAccountName: v[17] as BillingLine['SubAccountName'],
    ServiceName: v[18] as BillingLine['ServiceName'],
    ServiceCategory: v[19] as BillingLine['ServiceCategory'],
    RegionId: v[20] as BillingLine['RegionId'],
    RegionName: v[21] as BillingLine['RegionName'],
    AvailabilityZone: v[22] as BillingLine['AvailabilityZone'],
    ResourceId: v[23] as BillingLine['ResourceId'],
    ResourceName: v[24] as BillingLine['ResourceName'],
    ResourceType: v[25] as BillingLine['ResourceType'],
    SkuId: v[26] as BillingLine['SkuId'],
    SkuPriceId: v[27] as BillingLine['SkuPriceId'],
    PricingUnit: v[28] as BillingLine['PricingUnit'],
    PricingQuantity: v[29] as BillingLine['PricingQuantity'],
    ConsumedQuantity: v[30] as BillingLine['ConsumedQuantity'],
    ConsumedUnit: v[31] as BillingLine['ConsumedUnit'],
    Tags: v[32] as BillingLine['Tags'],
    SourceName: opts.sourceName,
    SourceFile: opts.sourceFile,
    SourceLine: line,
  };
}

/** One CSV record -> a BillingLine, or the reason it is not one. */
export function toBillingLine(
  header: Header,
  row: string[],
  caches: LineCaches,
  opts: FocusOptions,
  line: number,
): BillingLine | string {
  if (row.length !== header.names.length)
    return `${row.length} fields, the header has ${header.names.length}`;
  const out = caches.values;
  out.fill(undefined);
  for (const f of header.absent) out[SLOT.get(f)!] = ABSENT_DEFAULTS[f];
  out[TAGS_SLOT] = NO_TAGS;
  for (let i = 0; i < row.length; i++) {
    const kind = header.kinds[i]!;
    if (kind === 'skip') continue;
    const f = header.fields[i]!;
    const at = header.slots[i]!;
    const raw = row[i]!;
    if (isNull(raw)) {
      if (NOT_NULL.has(f)) return `${f} is null, FOCUS requires a value`;
      continue;
    }
    if (kind === 'tags') {
      const tags = caches.tags.parse(raw);
      if (typeof tags === 'string') return `Tags = ${JSON.stringify(clip(raw))}: ${tags}`;
      out[at] = tags;
    } else if (kind === 'decimal') {
      const v = raw.trim();
      const bad = checkDecimal(v);
      if (bad) return `${f} = ${JSON.stringify(clip(raw))}: ${bad}`;
      out[at] = v;
    } else if (kind === 'date') {
      const iso = caches.dates.normalizeAt(i, raw.trim());
      if (iso === undefined) return `${f} = ${JSON.stringify(clip(raw))}: not an ISO 8601 date-time`;
      out[at] = iso;
    } else {
      out[at] = caches.text(i, raw);
    }
  }
  return lineOf(out, opts, line);
}

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

function recordOf(header: Header | undefined, row: string[]): Record<string, string> | string[] {
  if (!header) return row;
  const rec: Record<string, string> = {};
  row.forEach((v, i) => (rec[header.names[i] ?? `#${i + 1}`] = v));
  return rec;
}

/**
 * Streams a FOCUS CSV (already decompressed) into batches. Malformed CSV (a stray quote)
 * becomes a problem and parsing goes on; only a missing or non-FOCUS header throws.
 */
export async function* parseFocusCsv(input: Readable, opts: FocusOptions): AsyncGenerator<FocusBatch> {
  const size = opts.batchSize ?? 5000;
  const caches = new LineCaches();
  let header: Header | undefined;
  let lines: BillingLine[] = [];
  let problems: FocusProblem[] = [];
  try {
    // Dropped columns are not made into strings once the header is known.
    const skip: boolean[] = [];
    for await (const items of readCsv(input, { skip })) {
      for (const item of items) {
        if (isCsvError(item)) {
          problems.push({ line: item.line, reason: `malformed CSV: ${item.reason}`, record: [] });
        } else if (!header) {
          header = readHeader(item.fields, opts.sourceFile);
          header.kinds.forEach((k, i) => (skip[i] = k === 'skip'));
        } else {
          const r = toBillingLine(header, item.fields, caches, opts, item.line);
          if (typeof r === 'string')
            problems.push({ line: item.line, reason: r, record: recordOf(header, readRecord(item)) });
          else lines.push(r);
        }
        if (lines.length >= size || problems.length >= size) {
          yield { lines, problems };
          lines = [];
          problems = [];
        }
      }
    }
  } finally {
    // Stopped early (a bad header, the consumer gave up): release the file.
    input.destroy();
  }
  if (!header) throw new FocusFileError(`${opts.sourceFile}: empty file, no FOCUS header`);
  if (lines.length || problems.length) yield { lines, problems };
}

/** The columns a file lacked and got placeholders for (see ABSENT_DEFAULTS), for the load log. */
export function absentColumns(headerNames: string[]): Field[] {
  const present = new Set(headerNames.map((n) => KNOWN.get(n.trim().toLowerCase())));
  return (Object.keys(ABSENT_DEFAULTS) as Field[]).filter((f) => !present.has(f));
}

export { DateNormalizer };
