import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TOPICS } from '../../core/bus/topics.ts';
import type { OutgoingRecord } from '../../core/bus/types.ts';
import { mutationTarget } from '../../core/clickhouse/ddl.ts';
import type { Config } from '../../core/config/schema.ts';
import { FocusFileError } from '../billing/focus.ts';
import { loadBillingFile } from '../billing/load-file.ts';
import { deadLetterRow, insertDeadLetters } from '../dead-letters.ts';
import { logKey, seriesKey } from '../keys.ts';
import { detectFormat, UsageError, type FileFormat } from './detect.ts';
import type { BadLine } from './lines.ts';
import { parseLogFile } from './logs.ts';
import { parseMetricFile } from './metrics.ts';
import { contentHash, previousLoad, recordFileLoad } from './once.ts';
import { openPipeline, type FilePipeline } from './pipeline.ts';

/**
 * `opsight ingest file`: one file, once. Detects what it holds, loads it through the bus and a
 * writer into ClickHouse, waits until every published record is stored, and remembers the
 * content hash (file_loads) so the same content loads nothing the next time unless forced.
 * A bad line never stops the load: it becomes a dead_letters row (key = the file's absolute
 * path, offset = the line) and a `file:line: message` on stderr.
 */

export interface IngestFileOptions {
  path: string;
  kind?: string;
  format?: string;
  /** service.name for text logs and exposition files. */
  service?: string;
  force?: boolean;
  /** dead_letters.source and billing SourceName. */
  source?: string;
  /** Receives each problem line (`file:line: message`). */
  warn: (message: string) => void;
}

export interface IngestFileResult {
  path: string;
  kind: FileFormat['kind'];
  format: string;
  accepted: number;
  rejected: number;
  deadLetters: number;
  /** Set when the same content was loaded before and nothing was loaded now. */
  alreadyLoaded?: { path: string; at: string; rows: number };
  clickhouseUrl: string;
  /** True when this process started the embedded ClickHouse (and stopped it again). */
  startedClickHouse: boolean;
}

/** Logs and metrics files are parsed whole; billing files stream. */
const MAX_TEXT_BYTES = 256 * 1024 * 1024;
const BATCH = 5000;
const MAX_WARNINGS = 100;

async function readHead(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

export async function ingestFile(config: Config, o: IngestFileOptions): Promise<IngestFileResult> {
  const path = resolve(o.path);
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${o.path}: cannot read (${err.code ?? err.message})`);
  });
  if (!st.isFile()) throw new UsageError(`${o.path}: not a regular file`);
  const head = await readHead(path).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${o.path}: cannot read (${err.code ?? err.message})`);
  });
  const what = detectFormat(o.path, head, o.kind, o.format);
  if (what.kind !== 'billing' && st.size > MAX_TEXT_BYTES)
    throw new UsageError(
      `${o.path}: ${st.size} bytes; ${what.kind} files are read whole, up to ${MAX_TEXT_BYTES}`,
    );
  const sha256 = await contentHash(path);
  const source = o.source ?? 'file';

  const pipeline = await openPipeline(config);
  try {
    const base = {
      path,
      kind: what.kind,
      format: what.format,
      clickhouseUrl: pipeline.clickhouseUrl,
      startedClickHouse: pipeline.startedClickHouse,
    };
    const prev = await previousLoad(pipeline.clickhouse, sha256);
    if (prev && !o.force)
      return {
        ...base,
        accepted: 0,
        rejected: 0,
        deadLetters: 0,
        alreadyLoaded: { path: prev.path, at: prev.at, rows: prev.rows },
      };
    const r =
      what.kind === 'billing'
        ? await loadBillingInto(
            pipeline,
            path,
            what.format,
            source,
            !!prev,
            o.warn,
            config.clickhouse.cluster,
          )
        : await loadRecords(pipeline, path, what, st.mtimeMs, source, {
            ...o,
            serviceNameAttributes: config.ingest.jsonl.serviceNameAttributes,
          });
    await recordFileLoad(pipeline.clickhouse, {
      sha256,
      path,
      kind: what.kind,
      format: what.format,
      size: st.size,
      rows: r.accepted,
      rejected: r.rejected,
    });
    return { ...base, ...r };
  } finally {
    await pipeline.close();
  }
}

type Counts = { accepted: number; rejected: number; deadLetters: number };

async function loadRecords(
  p: FilePipeline,
  path: string,
  what: Exclude<FileFormat, { kind: 'billing' }>,
  mtimeMs: number,
  source: string,
  o: IngestFileOptions & { serviceNameAttributes: readonly string[] },
): Promise<Counts> {
  const { readFile } = await import('node:fs/promises');
  const text = (await readFile(path)).toString('utf8');
  const nowNanos = BigInt(Date.now()) * 1_000_000n;
  let topic: string;
  let records: OutgoingRecord[];
  let bad: BadLine[];
  let rejected: number;
  if (what.kind === 'logs') {
    const r = parseLogFile(text, {
      path,
      format: what.format,
      service: o.service,
      serviceNameAttributes: o.serviceNameAttributes,
      nowNanos,
    });
    topic = TOPICS.logs;
    records = r.records.map((value) => ({ key: logKey(value), value }));
    ({ bad, rejected } = r);
  } else {
    const r = parseMetricFile(text, { path, format: what.format, service: o.service, mtimeMs });
    topic = TOPICS.metrics;
    records = r.records.map((value) => ({ key: seriesKey(value), value }));
    ({ bad, rejected } = r);
  }
  bad.slice(0, MAX_WARNINGS).forEach((b) => o.warn(`${path}:${b.line}: ${b.message}`));
  if (bad.length > MAX_WARNINGS) o.warn(`${path}: ... and ${bad.length - MAX_WARNINGS} more bad lines`);
  const receivedAt = Date.now();
  await insertDeadLetters(
    p.clickhouse,
    bad.map((b) =>
      deadLetterRow(
        { source, topic, file: path, line: b.line, reason: b.message, payload: b.text },
        receivedAt,
      ),
    ),
  );
  for (let i = 0; i < records.length; i += BATCH) await p.bus.publish(topic, records.slice(i, i + BATCH));
  await p.drain([topic]);
  return { accepted: records.length, rejected, deadLetters: bad.length };
}

async function loadBillingInto(
  p: FilePipeline,
  path: string,
  format: Extract<FileFormat, { kind: 'billing' }>['format'],
  source: string,
  reload: boolean,
  warn: (message: string) => void,
  cluster: string | undefined,
): Promise<Counts> {
  if (reload) {
    // --force on a file loaded before: replace its rows rather than add them again.
    await p.clickhouse.command({
      query: `ALTER TABLE ${mutationTarget('billing_focus', cluster)} DELETE WHERE SourceName = {source:String} AND SourceFile = {file:String}`,
      query_params: { source, file: path },
      clickhouse_settings: { mutations_sync: '2' },
    });
  }
  const startedAt = Date.now() - 1000;
  let r;
  try {
    r = await loadBillingFile(
      { bus: p.bus, clickhouse: p.clickhouse },
      { sourceName: source, path, sourceFile: path, format },
    );
  } catch (err) {
    // The file as a whole is not a billing export this loader can read.
    if (err instanceof FocusFileError) throw new UsageError(err.message);
    throw err;
  }
  await p.drain([TOPICS.billing]);
  if (r.rejected) {
    // The loader stored each bad row's dead letter; show them as the other kinds do.
    const rs = await p.clickhouse.query({
      query: `SELECT offset, reason FROM dead_letters
              WHERE source = {source:String} AND key = {file:String} AND received_at >= {since:DateTime64(3, 'UTC')}
              ORDER BY offset LIMIT ${MAX_WARNINGS}`,
      query_params: {
        source,
        file: path,
        since: new Date(startedAt).toISOString().replace('T', ' ').replace('Z', ''),
      },
      format: 'JSONEachRow',
    });
    for (const d of await rs.json<{ offset: number; reason: string }>()) warn(d.reason);
    if (r.rejected > MAX_WARNINGS) warn(`${path}: ... and ${r.rejected - MAX_WARNINGS} more bad rows`);
  }
  return { accepted: r.rows, rejected: r.rejected, deadLetters: r.rejected };
}
