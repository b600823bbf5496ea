import type { Readable } from 'node:stream';
import type { BillingLine } from '../../core/model/records.ts';
import { toUnixNanos } from '../../core/clickhouse/rowbinary.ts';
import { isCsvError, readCsv } from './csv.ts';

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

const MONEY = ['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost'] as const;
const QUANTITIES = ['PricingQuantity', 'ConsumedQuantity'] as const;
const DATES = ['BillingPeriodStart', 'BillingPeriodEnd', 'ChargePeriodStart', 'ChargePeriodEnd'] as const;
const STRINGS = [
  'BillingCurrency',
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
  'ConsumedUnit',
] as const;

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

const KNOWN = new Map<string, Field>(
  [...MONEY, ...QUANTITIES, ...DATES, ...STRINGS, 'Tags' as const].map((f) => [f.toLowerCase(), f]),
);

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

type Kind = 'skip' | 'decimal' | 'date' | 'tags' | 'text';

interface Header {
  names: string[];
  /** Field at each CSV position, or undefined for a dropped column. */
  fields: (Field | undefined)[];
  /** How each position is read, decided once per file rather than per value. */
  kinds: Kind[];
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
  return { names, fields, kinds, absent };
}

/** Every field present from the start: one object shape for all lines keeps property access fast. */
function blankLine(): Record<keyof BillingLine, unknown> {
  return {
    BilledCost: undefined,
    EffectiveCost: undefined,
    ListCost: undefined,
    ContractedCost: undefined,
    BillingCurrency: undefined,
    BillingPeriodStart: undefined,
    BillingPeriodEnd: undefined,
    ChargePeriodStart: undefined,
    ChargePeriodEnd: undefined,
    ChargeCategory: undefined,
    ChargeDescription: undefined,
    ProviderName: undefined,
    PublisherName: undefined,
    InvoiceIssuerName: undefined,
    BillingAccountId: undefined,
    BillingAccountName: undefined,
    SubAccountId: undefined,
    SubAccountName: undefined,
    ServiceName: undefined,
    ServiceCategory: undefined,
    RegionId: undefined,
    RegionName: undefined,
    AvailabilityZone: undefined,
    ResourceId: undefined,
    ResourceName: undefined,
    ResourceType: undefined,
    SkuId: undefined,
    SkuPriceId: undefined,
    PricingUnit: undefined,
    PricingQuantity: undefined,
    ConsumedQuantity: undefined,
    ConsumedUnit: undefined,
    Tags: undefined,
    SourceName: undefined,
    SourceFile: undefined,
    SourceLine: undefined,
  };
}

/** One CSV record -> a BillingLine, or the reason it is not one. */
export function toBillingLine(
  header: Header,
  row: string[],
  dates: DateNormalizer,
  opts: FocusOptions,
  line: number,
): BillingLine | string {
  if (row.length !== header.names.length)
    return `${row.length} fields, the header has ${header.names.length}`;
  const out = blankLine() as unknown as Record<string, unknown>;
  for (const f of header.absent) out[f] = ABSENT_DEFAULTS[f];
  for (let i = 0; i < row.length; i++) {
    const kind = header.kinds[i]!;
    if (kind === 'skip') continue;
    const f = header.fields[i]!;
    const raw = row[i]!;
    if (isNull(raw)) {
      if (NOT_NULL.has(f)) return `${f} is null, FOCUS requires a value`;
      continue;
    }
    if (kind === 'tags') {
      const tags = parseTags(raw);
      if (typeof tags === 'string') return `Tags = ${JSON.stringify(clip(raw))}: ${tags}`;
      out.Tags = tags;
    } else if (kind === 'decimal') {
      const v = raw.trim();
      const bad = checkDecimal(v);
      if (bad) return `${f} = ${JSON.stringify(clip(raw))}: ${bad}`;
      out[f] = v;
    } else if (kind === 'date') {
      const iso = dates.normalize(raw.trim());
      if (iso === undefined) return `${f} = ${JSON.stringify(clip(raw))}: not an ISO 8601 date-time`;
      out[f] = iso;
    } else {
      out[f] = raw;
    }
  }
  out.Tags ??= {};
  out.SourceName = opts.sourceName;
  out.SourceFile = opts.sourceFile;
  out.SourceLine = line;
  return out as unknown as BillingLine;
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
  const dates = new DateNormalizer();
  let header: Header | undefined;
  let lines: BillingLine[] = [];
  let problems: FocusProblem[] = [];
  try {
    for await (const items of readCsv(input)) {
      for (const item of items) {
        if (isCsvError(item)) {
          problems.push({ line: item.line, reason: `malformed CSV: ${item.reason}`, record: [] });
        } else if (!header) {
          header = readHeader(item.fields, opts.sourceFile);
        } else {
          const r = toBillingLine(header, item.fields, dates, opts, item.line);
          if (typeof r === 'string')
            problems.push({ line: item.line, reason: r, record: recordOf(header, item.fields) });
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
