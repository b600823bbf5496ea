import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BillingLine } from '../../core/model/records.ts';
import { FocusFileError } from '../../ingest/billing/focus.ts';
import { FOCUS_DIR, fileFacts, readText, scaled, sumColumn } from './billing-support.ts';
import {
  clickhouseParquet,
  parseAll,
  startLoader,
  survives,
  type Loader,
} from './billing-formats-support.ts';

/**
 * FOCUS as Parquet: focus_sample.csv turned into Parquet by ClickHouse with typed columns
 * (Decimal or Float64 money, DateTime64 or text dates, Tags as Map or JSON text, several
 * compressions and row groups), loaded through the real bus and writer; the lines must be
 * the ones the CSV path makes from the same rows.
 */

const CSV_PATH = join(FOCUS_DIR, 'focus_sample.csv');
const CSV = readText(CSV_PATH);
const COLUMNS = CSV.slice(0, CSV.indexOf('\n'))
  .split(',')
  .map((c) => c.replace(/"/g, ''));
const q = (c: string) => `\`${c}\``;
const nullable = (c: string) => `nullIf(nullIf(${q(c)}, 'NULL'), '')`;
const isNumber = (c: string) => /(Cost|Quantity|Price)$/.test(c);
const isDate = (c: string) => /Period(Start|End)$/.test(c);

/** A SELECT over the sample's String columns giving them Parquet types. */
function select(money: 'decimal' | 'float', tags: 'map' | 'json', dates: 'datetime' | 'text'): string {
  const cols = COLUMNS.map((c) => {
    if (isNumber(c))
      return money === 'decimal'
        ? `toDecimal128OrNull(${nullable(c)}, 15) AS ${q(c)}`
        : `toFloat64OrNull(${nullable(c)}) AS ${q(c)}`;
    if (isDate(c) && dates === 'datetime')
      return `parseDateTime64BestEffortOrNull(${nullable(c)}, 3, 'UTC') AS ${q(c)}`;
    if (c === 'Tags' && tags === 'map')
      return `JSONExtract(ifNull(${nullable(c)}, '{}'), 'Map(String, String)') AS ${q(c)}`;
    return `${nullable(c)} AS ${q(c)}`;
  });
  return `SELECT ${cols.join(', ')} FROM data`;
}

const VARIANTS: { file: string; sql: string; settings: Record<string, string> }[] = [
  { file: 'decimal-map.parquet', sql: select('decimal', 'map', 'datetime'), settings: {} },
  {
    file: 'float-json-snappy.parquet',
    sql: select('float', 'json', 'text'),
    settings: {
      output_format_parquet_compression_method: 'snappy',
      output_format_parquet_row_group_size: '100',
    },
  },
  {
    file: 'decimal-json-gzip.parquet',
    sql: select('decimal', 'json', 'datetime'),
    settings: {
      output_format_parquet_compression_method: 'gzip',
      output_format_parquet_row_group_size: '300',
    },
  },
  {
    file: 'float-map-brotli.parquet',
    sql: select('float', 'map', 'datetime'),
    settings: { output_format_parquet_compression_method: 'brotli' },
  },
];

const BAD_CSV = [
  'BilledCost,EffectiveCost,ListCost,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName,ServiceName',
  '1.5,1.25,2,USD,2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,AWS,EC2',
  ',1,1,USD,2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,AWS,EC2',
  '2.25,2,2,USD,2024-09-01,2024-10-01,yesterday,2024-09-02 01:00:00,Usage,AWS,EC2',
  '3,3,3,USD,2024-09-01,2024-10-01,2024-09-03 00:00:00,2024-09-03 01:00:00,Usage,AWS,S3',
  '',
].join('\n');

let dir: string;
let loader: Loader;
const url = () => inject('clickhouseUrl');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsight-parquet-'));
  for (const v of VARIANTS) await clickhouseParquet(url(), CSV, v.sql, join(dir, v.file), v.settings);
  // Costs stay text here so that one bad value can reach the loader; dates as text too.
  await clickhouseParquet(
    url(),
    BAD_CSV,
    `SELECT toDecimal64OrNull(nullIf(BilledCost, ''), 4) AS BilledCost, toDecimal64(EffectiveCost, 4) AS EffectiveCost,
       toDecimal64(ListCost, 4) AS ListCost, BillingCurrency, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart,
       ChargePeriodEnd, ChargeCategory, ProviderName, ServiceName FROM data`,
    join(dir, 'bad.parquet'),
  );
  loader = await startLoader(url(), 'parquet');
}, 120_000);

afterAll(async () => {
  await loader?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const MONEY = [
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
  'PricingQuantity',
  'ConsumedQuantity',
] as const;

/** A line with its money as scaled integers and without its position, for comparing CSV and Parquet. */
function comparable(l: BillingLine): Record<string, unknown> {
  const out: Record<string, unknown> = { ...l, SourceFile: undefined, SourceLine: undefined };
  for (const m of MONEY) out[m] = l[m] === undefined ? undefined : scaled(l[m], 15);
  return out;
}

describe('FOCUS Parquet', () => {
  it('loads every typed variant with the CSV file own row count and exact sums', async () => {
    const { records } = fileFacts(CSV);
    const rows = records.map((r) => r.row);
    const want = {
      n: rows.length,
      billed: sumColumn(rows, 'BilledCost', loader.scale),
      effective: sumColumn(rows, 'EffectiveCost', loader.scale),
    };
    expect(want.n).toBe(1000);
    const periods = [
      ...new Set(rows.map((r) => new Date(`${r.BillingPeriodStart!.replace(' ', 'T')}Z`).toISOString())),
    ].sort();
    for (const v of VARIANTS) {
      const r = await loader.load(join(dir, v.file), v.file);
      expect({ file: v.file, rows: r.rows, rejected: r.rejected }).toEqual({
        file: v.file,
        rows: 1000,
        rejected: 0,
      });
      expect(r.periods).toEqual(periods);
      expect({ file: v.file, ...(await loader.stored(v.file, 1000)) }).toEqual({ file: v.file, ...want });
    }
  });

  it('makes the same lines as the CSV path, record numbers for lines', async () => {
    const fromCsv = await parseAll(CSV_PATH, 'focus_sample.csv');
    expect(fromCsv.problems).toEqual([]);
    for (const v of VARIANTS) {
      const fromParquet = await parseAll(join(dir, v.file), v.file);
      expect(fromParquet.problems).toEqual([]);
      expect(fromParquet.lines.map((l) => l.SourceLine)).toEqual(fromCsv.lines.map((l) => l.SourceLine - 1));
      expect(fromParquet.lines.map(comparable)).toEqual(fromCsv.lines.map(comparable));
    }
    // Decimal money comes out as exact text, never through a float.
    const dec = await parseAll(join(dir, 'decimal-map.parquet'), 'x');
    expect(dec.lines[1]!.BilledCost).toBe('0.0000160599');
  });

  it('dead-letters a bad record with its record number and loads the rest', async () => {
    const r = await loader.load(join(dir, 'bad.parquet'), 'bad.parquet');
    expect(r).toMatchObject({ rows: 2, rejected: 2 });
    const dead = await loader.deadLetters('bad.parquet');
    expect(dead.map((d) => [d.offset, d.reason])).toEqual([
      [2, 'bad.parquet:2: BilledCost is null, FOCUS requires a value'],
      [3, 'bad.parquet:3: ChargePeriodStart = "yesterday": not an ISO 8601 date-time'],
    ]);
    expect(JSON.parse(dead[1]!.payload)).toMatchObject({
      ChargePeriodStart: 'yesterday',
      BilledCost: '2.25',
    });
    const stored = await loader.stored('bad.parquet', 2);
    expect(stored.billed).toBe(scaled('4.5', loader.scale));
  });

  it('refuses a file that is not Parquet, or not billing, by name', async () => {
    writeFileSync(join(dir, 'text.parquet'), 'hello, not parquet at all');
    await expect(parseAll(join(dir, 'text.parquet'), 'text.parquet')).rejects.toThrow(
      /^text\.parquet: not a readable Parquet file/,
    );
    await clickhouseParquet(url(), 'a,b\n1,2\n', 'SELECT a, b FROM data', join(dir, 'other.parquet'));
    await expect(parseAll(join(dir, 'other.parquet'), 'other.parquet')).rejects.toBeInstanceOf(
      FocusFileError,
    );
  });

  it('survives thousands of truncated and corrupted variants', async () => {
    const small = join(dir, 'small.parquet');
    await clickhouseParquet(
      url(),
      CSV.split('\n').slice(0, 31).join('\n') + '\n',
      select('decimal', 'map', 'datetime'),
      small,
      { output_format_parquet_row_group_size: '10', output_format_parquet_compression_method: 'snappy' },
    );
    const bytes = readFileSync(small);
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = { ok: 0, 'file-error': 0 };
    const path = join(dir, 'fuzz.parquet');
    for (let t = 0; t < 2000; t++) {
      let b = Buffer.from(bytes);
      const kind = rnd(3);
      if (kind === 0) b = b.subarray(0, rnd(b.length));
      else if (kind === 1) for (let k = 0; k < 1 + rnd(8); k++) b[rnd(b.length)] = rnd(256);
      else {
        // Corrupt only the data pages: the footer stays valid, so the readers get further.
        const footer = b.readUInt32LE(b.length - 8) + 8;
        for (let k = 0; k < 1 + rnd(8); k++) b[4 + rnd(b.length - footer - 4)] = rnd(256);
      }
      writeFileSync(path, b);
      outcomes[await survives(path, `fuzz-${t}.parquet`)]++;
    }
    // Both outcomes occur: the fuzzing reached the record level, not only the footer check.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes['file-error']).toBeGreaterThan(0);
  }, 300_000);
});
