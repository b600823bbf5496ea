import { Counter } from 'prom-client';
import type { ClickHouseClient } from '../core/clickhouse/client.ts';
import type { Logger } from '../core/log.ts';
import { deadLetters as deadLettersTotal, registry } from '../core/metrics.ts';

/**
 * dead_letters for sources: input a source could not turn into records (an unparseable line,
 * a malformed message) is kept with its reason and where it came from. Sources call add(),
 * which never blocks and never throws; rows are inserted in batches (maxRows or flushMs). While
 * ClickHouse is unreachable they wait in a bounded buffer and the insert is retried with
 * backoff; what does not fit is dropped and counted in opsight_source_dead_letters_total.
 *
 * Rows use the columns of the writer's dead letters (core/clickhouse/schema/0008_pipeline.ts):
 * topic = where the records would have gone, partition 0, offset = the line number (0 when
 * none), key = the file, URL or peer, reason = `file:line: reason`.
 */

export const DEAD_LETTERS_TABLE = 'dead_letters';

export interface DeadLetterInput {
  /** The source's name, e.g. `scrape/node` or `files:app`. */
  source: string;
  reason: string;
  /** What was read: text as is, anything else as JSON. */
  payload: unknown;
  /** The file, URL or peer the input came from. */
  file?: string;
  /** 1-based line within `file` (or within the request). */
  line?: number;
  /** The topic the input was meant for. */
  topic?: string;
}

/** What sources see: add() returns at once and cannot fail. */
export interface DeadLetterSink {
  add(letter: DeadLetterInput): void;
}

export interface DeadLetterRow {
  received_at: string;
  topic: string;
  partition: number;
  offset: number;
  key: string;
  source: string;
  reason: string;
  payload: string;
}

/** The same caps as the writer's dead letters: enough to see what was wrong. */
const MAX_PAYLOAD = 64 * 1024;
const MAX_REASON = 4096;

function utcText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function payloadText(payload: unknown): string {
  let text: string;
  if (typeof payload === 'string') text = payload;
  else {
    try {
      text =
        JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
    } catch {
      text = String(payload);
    }
  }
  return text.length > MAX_PAYLOAD
    ? `${text.slice(0, MAX_PAYLOAD)}...(truncated, ${text.length} chars)`
    : text;
}

/** One dead_letters row; reason prefixed `file:line: ` where there is a file. */
export function deadLetterRow(letter: DeadLetterInput, receivedAtMs = Date.now()): DeadLetterRow {
  const where = letter.file ? `${letter.file}${letter.line ? `:${letter.line}` : ''}: ` : '';
  return {
    received_at: utcText(receivedAtMs),
    topic: letter.topic ?? '',
    partition: 0,
    offset: letter.line ?? 0,
    key: letter.file ?? '',
    source: letter.source,
    reason: `${where}${letter.reason}`.slice(0, MAX_REASON),
    payload: payloadText(letter.payload),
  };
}

/** Inserts rows now (awaited): for callers that must know the rows are stored (billing). */
export async function insertDeadLetters(
  client: ClickHouseClient,
  rows: readonly DeadLetterRow[],
): Promise<void> {
  if (!rows.length) return;
  await client.insert({ table: DEAD_LETTERS_TABLE, format: 'JSONEachRow', values: rows as DeadLetterRow[] });
  for (const [topic, n] of countBy(rows, (r) => r.topic)) deadLettersTotal.inc({ topic }, n);
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of items) out.set(key(t), (out.get(key(t)) ?? 0) + 1);
  return out;
}

export const sourceDeadLetters = new Counter({
  name: 'opsight_source_dead_letters_total',
  help: 'Dead letters of ingest sources: written to dead_letters, or dropped (buffer full, ClickHouse down).',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

export interface DeadLetterWriterOptions {
  client: ClickHouseClient;
  log?: Logger;
  /** Rows per insert; also flushes as soon as this many wait (default 500). */
  maxRows?: number;
  /** Longest a row waits before its insert (default 1000 ms). */
  flushMs?: number;
  /** Rows held while inserts fail; beyond this new rows are dropped (default 10 000). */
  maxBuffered?: number;
  /** Backoff between failed inserts doubles up to this (default 30 s). */
  maxRetryDelayMs?: number;
}

export class DeadLetterWriter implements DeadLetterSink {
  private readonly client: ClickHouseClient;
  private readonly log: Logger | undefined;
  private readonly maxRows: number;
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  private readonly maxRetryDelayMs: number;
  private buffer: DeadLetterRow[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  /** Rows stored and dropped since start (also on /metrics). */
  written = 0;
  dropped = 0;

  constructor(options: DeadLetterWriterOptions) {
    this.client = options.client;
    this.log = options.log;
    this.maxRows = Math.max(1, options.maxRows ?? 500);
    this.flushMs = options.flushMs ?? 1000;
    this.maxBuffered = Math.max(this.maxRows, options.maxBuffered ?? 10_000);
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  }

  add(letter: DeadLetterInput): void {
    try {
      if (this.closed || this.buffer.length >= this.maxBuffered) {
        this.drop(letter.source, 1);
        return;
      }
      this.buffer.push(deadLetterRow(letter));
      if (this.buffer.length >= this.maxRows && this.failures === 0) this.schedule(0);
      else this.schedule(this.flushMs);
    } catch (err) {
      // A dead letter must never take its source down.
      this.log?.warn({ err }, 'dead letter not recorded');
    }
  }

  /** Rows waiting for their insert. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Inserts everything buffered now; resolves when done or when an insert failed. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight) await this.inFlight;
    while (this.buffer.length) {
      const before = this.buffer.length;
      await this.insertOnce();
      if (this.buffer.length >= before) break; // failed: retried later by the timer
    }
  }

  /** Last attempt to store what is buffered; rows that still fail are counted as dropped. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.failures = 0;
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length) {
      for (const [source, n] of countBy(this.buffer, (r) => r.source)) this.drop(source, n);
      this.buffer = [];
    }
  }

  private drop(source: string, n: number): void {
    this.dropped += n;
    sourceDeadLetters.inc({ source, outcome: 'dropped' }, n);
  }

  private schedule(delayMs: number): void {
    if (this.closed && delayMs > 0) return;
    if (this.timer !== undefined) {
      if (delayMs > 0) return; // the pending timer fires soon enough
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.insertOnce();
    }, delayMs);
    this.timer.unref?.();
  }

  private insertOnce(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const batch = this.buffer.splice(0, this.maxRows);
    if (!batch.length) return Promise.resolve();
    this.inFlight = insertDeadLetters(this.client, batch)
      .then(
        () => {
          this.failures = 0;
          this.written += batch.length;
          for (const [source, n] of countBy(batch, (r) => r.source))
            sourceDeadLetters.inc({ source, outcome: 'written' }, n);
        },
        (err: unknown) => {
          // Back to the front, in order; the newest rows give way if the buffer is over its bound.
          this.buffer = batch.concat(this.buffer);
          const over = this.buffer.length - this.maxBuffered;
          if (over > 0) {
            for (const [source, n] of countBy(this.buffer.splice(this.maxBuffered), (r) => r.source))
              this.drop(source, n);
          }
          if (this.failures++ === 0)
            this.log?.warn({ err, buffered: this.buffer.length }, 'dead_letters insert failed; retrying');
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (!this.buffer.length) return;
        if (this.failures > 0) {
          const delay = Math.min(this.maxRetryDelayMs, this.flushMs * 2 ** Math.min(this.failures, 16));
          this.schedule(delay);
        } else this.schedule(this.buffer.length >= this.maxRows ? 0 : this.flushMs);
      });
    return this.inFlight;
  }
}
