import { open } from 'node:fs/promises';
import type { Bus, OutgoingRecord } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { BillingFormat } from '../../core/config/ingest/billing.ts';
import type { BillingLine } from '../../core/model/records.ts';
import { billingKey } from '../keys.ts';
import { writeBillingDeadLetters } from './dead-letters.ts';
import { FocusFileError, parseFocusCsv, type FocusBatch } from './focus.ts';
import { openCsvRecords } from './formats/csv-records.ts';
import { chooseReader } from './formats/index.ts';
import { openJsonlRecords } from './formats/jsonl-records.ts';
import { openParquetRecords } from './formats/parquet-records.ts';
import { openBillingFile } from './open-file.ts';
import { isRecordError, type ColumnSlice, type RecordFile } from './formats/records.ts';
import type { MapContext, NativeRecord, NativeValue, RecordMapper } from './formats/types.ts';

/**
 * Loads one billing file in any supported format: parse, publish each batch (awaited: the
 * bus's backpressure paces the parse), dead-letter the bad rows. `beforePeriod` runs before
 * the first row of each billing period is published, so a restatement can delete that
 * period's old rows first.
 *
 * The container comes from the name (.csv[.gz], .parquet, .jsonl/.ndjson/.json[.gz]) or,
 * failing that, the first bytes; the format is the one asked for or, under `auto`, the one
 * whose columns the file has (formats/index.ts). FOCUS CSV keeps its own fast parser.
 */

export interface LoadTarget {
  bus: Bus;
  clickhouse: ClickHouseClient;
  topic?: string;
}

export interface LoadFileOptions {
  sourceName: string;
  /** Path on disk. */
  path: string;
  /** What SourceFile and dead letters call it (the path relative to the watched directory). */
  sourceFile: string;
  /** `auto` (the default) tells the format from the file. */
  format?: BillingFormat;
  batchSize?: number;
  beforePeriod?: (billingPeriodStart: string) => Promise<void>;
  onBatch?: (accepted: number, rejected: number) => void;
}

export interface LoadResult {
  rows: number;
  rejected: number;
  /** Distinct BillingPeriodStart values, ISO 8601. */
  periods: string[];
}

type Container = 'csv' | 'parquet' | 'jsonl';

async function containerOf(path: string, name: string): Promise<Container> {
  const n = name.toLowerCase();
  if (n.endsWith('.parquet')) return 'parquet';
  if (/\.(jsonl|ndjson|json)(\.gz)?$/.test(n)) return 'jsonl';
  if (/\.csv(\.gz)?$/.test(n)) return 'csv';
  const fh = await open(path, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.toString('latin1') === 'PAR1') return 'parquet';
  return head[0] === 0x7b ? 'jsonl' : 'csv';
}

/** A record for its dead letter: column -> text (nested values as JSON). */
function flat(record: NativeRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record))
    out[k] = v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

async function* mapRecords(file: RecordFile, map: RecordMapper): AsyncGenerator<FocusBatch> {
  if (map.byPosition && file.columnSlices) {
    yield* mapColumns(file, file.columnSlices(), map.byPosition);
    return;
  }
  for await (const items of file.batches()) {
    const batch: FocusBatch = { lines: [], problems: [] };
    for (const item of items) {
      if (isRecordError(item)) {
        batch.problems.push({
          line: item.line,
          reason: item.error,
          record: typeof item.raw === 'string' ? [item.raw] : item.raw,
        });
        continue;
      }
      const r = map(item.record, item.line);
      if (typeof r === 'string')
        batch.problems.push({ line: item.line, reason: r, record: flat(item.record) });
      else batch.lines.push(r);
    }
    yield batch;
  }
}

/** mapRecords for a columnar file and a mapper by position: no record object per row. */
async function* mapColumns(
  file: RecordFile,
  slices: AsyncIterable<ColumnSlice>,
  map: NonNullable<RecordMapper['byPosition']>,
): AsyncGenerator<FocusBatch> {
  const row: NativeValue[] = new Array<NativeValue>(file.columns.length);
  for await (const { values, from, to, firstLine } of slices) {
    const batch: FocusBatch = { lines: [], problems: [] };
    for (let j = from; j < to; j++) {
      for (let c = 0; c < row.length; c++) row[c] = values[c]![j] ?? null;
      const r = map(row, firstLine + j);
      if (typeof r !== 'string') {
        batch.lines.push(r);
        continue;
      }
      const record: NativeRecord = {};
      file.columns.forEach((name, c) => (record[name] = row[c]!));
      batch.problems.push({ line: firstLine + j, reason: r, record: flat(record) });
    }
    yield batch;
  }
}

function openRecords(c: Container, path: string, file: string, batchSize?: number): Promise<RecordFile> {
  if (c === 'parquet') return openParquetRecords(path, file, batchSize);
  if (c === 'jsonl') return openJsonlRecords(path, file, batchSize);
  return openCsvRecords(path, file);
}

/**
 * The batches of one file, by container and format, without publishing anything: a bad file
 * throws FocusFileError (here or while iterating), a bad record is a problem in its batch.
 */
export async function parseBillingFile(o: LoadFileOptions): Promise<AsyncIterable<FocusBatch>> {
  const format = o.format ?? 'auto';
  const ctx: MapContext = { sourceName: o.sourceName, sourceFile: o.sourceFile };
  const container = await containerOf(o.path, o.sourceFile);
  const focusCsv = async () =>
    parseFocusCsv(await openBillingFile(o.path), { ...ctx, batchSize: o.batchSize });
  if (container === 'csv' && format === 'focus') return focusCsv();
  const records = await openRecords(container, o.path, o.sourceFile, o.batchSize);
  try {
    const reader = chooseReader(records.columns, format, o.sourceFile);
    if (container === 'csv' && reader.format === 'focus') {
      // Detection only read the header: FOCUS CSV is parsed again by its own fast path.
      await records.close();
      return focusCsv();
    }
    return mapRecords(records, reader.open(records.columns, ctx));
  } catch (err) {
    await records.close();
    throw err;
  }
}

export async function loadBillingFile(t: LoadTarget, o: LoadFileOptions): Promise<LoadResult> {
  const topic = t.topic ?? TOPICS.billing;
  const periods = new Set<string>();
  let rows = 0;
  let rejected = 0;
  try {
    for await (const { lines, problems } of await parseBillingFile(o)) {
      for (const l of lines) {
        if (periods.has(l.BillingPeriodStart)) continue;
        await o.beforePeriod?.(l.BillingPeriodStart);
        periods.add(l.BillingPeriodStart);
      }
      const records: OutgoingRecord<BillingLine>[] = lines.map((l) => ({ key: billingKey(l), value: l }));
      if (records.length) await t.bus.publish(topic, records);
      await writeBillingDeadLetters(t.clickhouse, o.sourceName, o.sourceFile, problems);
      rows += lines.length;
      rejected += problems.length;
      o.onBatch?.(lines.length, problems.length);
    }
  } catch (err) {
    // A gzip or read error mid-file is about this file; name it.
    if (err instanceof FocusFileError || !(err instanceof Error)) throw err;
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_') || /unexpected end of file/i.test(err.message))
      throw new FocusFileError(`${o.sourceFile}: ${err.message} (after ${rows + rejected} records)`);
    throw err;
  }
  return { rows, rejected, periods: [...periods].sort() };
}

/** The FOCUS-era name, kept for callers (ingest/billing/source.ts): any format loads through it. */
export const loadFocusFile = loadBillingFile;
