import { writeFileSync } from 'node:fs';
import { MemoryBus } from '../../core/bus/memory.ts';
import type { BillingFormat } from '../../core/config/ingest/billing.ts';
import type { BillingLine } from '../../core/model/records.ts';
import { loadBillingFile, parseBillingFile, type LoadResult } from '../../ingest/billing/load-file.ts';
import { FocusFileError, type FocusProblem } from '../../ingest/billing/focus.ts';
import { WriterCounters, startWriter, type Writer } from '../../ingest/writer/index.ts';
import { quiet, testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';
import { scaled } from './billing-support.ts';

/**
 * Billing format tests: loadBillingFile into the real in-process bus, the real writer and
 * ClickHouse (independent of the directory source), Parquet files made by ClickHouse itself,
 * and exact decimal sums.
 */

export interface Loader {
  db: TestDatabase;
  /** Scale of billing_focus money columns. */
  scale: number;
  load(path: string, sourceFile: string, format?: BillingFormat): Promise<LoadResult>;
  /** Rows of a file once the writer has stored them all. */
  stored(sourceFile: string, rows: number): Promise<{ n: number; billed: bigint; effective: bigint }>;
  deadLetters(sourceFile: string): Promise<{ offset: number; reason: string; payload: string }[]>;
  stop(): Promise<void>;
}

export async function startLoader(clickhouseUrl: string, prefix: string): Promise<Loader> {
  const db = await testDatabase(clickhouseUrl, prefix);
  const [col] = await db.rows<{ type: string }>(
    `SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'billing_focus' AND name = 'BilledCost'`,
  );
  const scale = Number(/Decimal\(\d+, (\d+)\)/.exec(col!.type)![1]);
  const bus = new MemoryBus({ defaultPartitions: 2 });
  const writer: Writer = await startWriter({
    bus,
    clickhouse: db.client,
    database: db.database,
    config: { maxRows: 10_000, maxBytes: 8 * 1024 * 1024, maxAgeMs: 100, retryMaxDelayMs: 1000 },
    events: new WriterCounters(),
    log: quiet,
  });
  const query = async <T>(sql: string, file: string): Promise<T[]> => {
    const rs = await db.client.query({ query: sql, query_params: { file }, format: 'JSONEachRow' });
    return rs.json<T>();
  };
  const sums = async (file: string) => {
    const [r] = await query<{ n: number; billed: string; effective: string }>(
      `SELECT count() AS n, toString(sum(BilledCost)) AS billed, toString(sum(EffectiveCost)) AS effective
       FROM billing_focus WHERE SourceFile = {file:String}`,
      file,
    );
    return { n: Number(r!.n), billed: scaled(r!.billed, scale), effective: scaled(r!.effective, scale) };
  };
  return {
    db,
    scale,
    load: (path, sourceFile, format) =>
      loadBillingFile({ bus, clickhouse: db.client }, { sourceName: prefix, path, sourceFile, format }),
    async stored(file, rows) {
      await waitFor(async () => (await sums(file)).n >= rows, `${rows} rows of ${file}`);
      return sums(file);
    },
    deadLetters: (file) =>
      query(
        `SELECT offset, reason, payload FROM dead_letters WHERE key = {file:String} ORDER BY offset`,
        file,
      ),
    async stop() {
      await writer.stop();
      await bus.close();
      await db.drop();
    },
  };
}

/** Every line and problem of a file, parsed without publishing. */
export async function parseAll(
  path: string,
  sourceFile: string,
  format?: BillingFormat,
): Promise<{ lines: BillingLine[]; problems: FocusProblem[] }> {
  const lines: BillingLine[] = [];
  const problems: FocusProblem[] = [];
  for await (const b of await parseBillingFile({ sourceName: 't', path, sourceFile, format })) {
    lines.push(...b.lines);
    problems.push(...b.problems);
  }
  return { lines, problems };
}

/** Parsing must end in lines/problems or a FocusFileError, never another exception. */
export async function survives(path: string, sourceFile: string): Promise<'ok' | 'file-error'> {
  try {
    await parseAll(path, sourceFile);
    return 'ok';
  } catch (err) {
    if (err instanceof FocusFileError) return 'file-error';
    throw new Error(`${sourceFile}: ${(err as Error).stack}`);
  }
}

/**
 * A Parquet file written by ClickHouse: `csv` (CSVWithNames, every column String) is sent as
 * the external table `data`, and `select` (over `data`) decides the Parquet column types.
 */
export async function clickhouseParquet(
  clickhouseUrl: string,
  csv: string,
  select: string,
  out: string,
  settings: Record<string, string> = {},
  input?: { format: string; structure: string },
): Promise<void> {
  const header = csv.slice(0, csv.indexOf('\n')).replace(/^\ufeff/, '');
  const names = header.split(',').map((h) => h.replace(/^"|"$/g, ''));
  const structure = input?.structure ?? names.map((n) => `\`${n}\` String`).join(', ');
  const form = new FormData();
  form.append('data', new Blob([csv]), 'data');
  const params = new URLSearchParams({
    query: `${select} FORMAT Parquet`,
    data_format: input?.format ?? 'CSVWithNames',
    data_structure: structure,
    prefer_column_name_to_alias: '1',
    ...settings,
  });
  const res = await fetch(`${clickhouseUrl}/?${params}`, { method: 'POST', body: form });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`ClickHouse ${res.status}: ${body.toString()}`);
  writeFileSync(out, body);
}

/**
 * Decimal text (exponent allowed: native exports write `5.64902E-05`) -> integer scaled by
 * 10^scale, truncated toward zero as a Decimal column stores it. The test's own arithmetic.
 */
export function exactScaled(text: string, scale: number): bigint {
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const digits = (m[2] || '0') + (m[3] ?? '');
  const shift = scale - (m[3] ?? '').length + Number(m[4] ?? 0);
  const v = shift >= 0 ? BigInt(digits) * 10n ** BigInt(shift) : BigInt(digits) / 10n ** BigInt(-shift);
  return m[1] === '-' ? -v : v;
}

/** Exact sum of decimal texts at a scale (empty = 0). */
export const sumText = (values: (string | undefined)[], scale: number) =>
  values.reduce((acc, v) => acc + (v === undefined || v === '' ? 0n : exactScaled(v, scale)), 0n);

export const sumNative = (rows: Record<string, string>[], column: string, scale: number) =>
  sumText(
    rows.map((r) => r[column]),
    scale,
  );
