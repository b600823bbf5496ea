import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { BusBatch } from '../../core/bus/types.ts';
import { insertRowBinary } from '../../core/clickhouse/rowbinary.ts';
import { withSpan } from '../../core/telemetry.ts';
import type { Logger } from '../../core/log.ts';
import type { ClosedBatch, DeadLetter, InsertFormat, TableRows } from './batcher.ts';
import { DEAD_LETTERS, type DeadLetterEncoder } from './dead-letters.ts';
import { StaleBatchError, errorText, isDataError } from './errors.ts';
import type { OffsetRange, RangeLog } from './ranges.ts';
import type { WriterEvents } from './stats.ts';

/**
 * Makes one closed batch durable: records its offset range, inserts each table's rows with a
 * deterministic deduplication token, and the batch's dead letters. ClickHouse unavailable:
 * retried with exponential backoff (heartbeating the bus) until it answers or the batch goes
 * stale. ClickHouse refusing the data: the rows are bisected, with tokens derived from each
 * half's offsets, until the bad rows are isolated into dead_letters and the rest is stored.
 */

export interface TableWriterOptions {
  client: ClickHouseClient;
  database: string;
  group: string;
  /** Prefixes every token and the recorded group: see WriterOptions.tokenScope. */
  tokenScope: string;
  retryMaxDelayMs: number;
  ranges: RangeLog;
  deadLetters: DeadLetterEncoder;
  events: WriterEvents;
  log: Logger;
}

/** Sync inserts: async_insert (on by default in recent ClickHouse) would not deduplicate by token. */
const INSERT_SETTINGS = { async_insert: 0, insert_deduplicate: 1 } as const;

const FIRST_RETRY_MS = 200;
const HEARTBEAT_MS = 1000;

export class TableWriter {
  private readonly recordGroup: string;

  constructor(private readonly o: TableWriterOptions) {
    this.recordGroup = o.tokenScope ? `${o.group}@${o.tokenScope}` : o.group;
  }

  /** The recorded ranges a redelivery from `from` must reproduce. */
  loadRanges(topic: string, partition: number, from: string): Promise<OffsetRange[]> {
    return this.o.ranges.load(this.recordGroup, topic, partition, from);
  }

  /** `${topic}:${partition}:${first}:${last}:${table}`, plus a suffix for pieces. */
  token(topic: string, partition: number, range: OffsetRange, table: string, suffix?: string): string {
    const scope = this.o.tokenScope ? `${this.o.tokenScope}:` : '';
    return `${scope}${topic}:${partition}:${range.first}:${range.last}:${table}${suffix ? `:${suffix}` : ''}`;
  }

  async write(batch: ClosedBatch, bus: BusBatch<unknown>): Promise<void> {
    const tables = batch.tables.map((t) => t.table);
    if (batch.deadLetters.length) tables.push(DEAD_LETTERS);
    if (tables.length === 0) return;
    const { topic, partition, range } = batch;
    await this.retrying(bus, 'ingest_batches', () =>
      this.o.ranges.record(this.recordGroup, topic, partition, range, tables),
    );
    // Every insert runs to its end (settled) before the handler may return or give up.
    const results = await Promise.allSettled([
      ...batch.tables.map((t) => this.writeTable(batch, t, bus)),
      this.writeDeadLetters(batch, batch.deadLetters, this.token(topic, partition, range, DEAD_LETTERS), bus),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async writeTable(batch: ClosedBatch, t: TableRows, bus: BusBatch<unknown>): Promise<void> {
    const { topic, partition, range } = batch;
    const bad: DeadLetter[] = [];

    const insert = async (lo: number, hi: number, token: string): Promise<void> => {
      const data = t.piece(lo, hi);
      try {
        await this.insertRetrying(bus, topic, t.table, t.columns, data, hi - lo, token, t.format);
      } catch (err) {
        if (!isDataError(err)) throw err;
        if (hi - lo === 1) {
          bad.push({
            message: t.messages[lo]!,
            reason: `${t.table}: ClickHouse rejected the row: ${errorText(err)}`,
            source: `clickhouse:${t.table}`,
          });
          return;
        }
        if (lo === 0 && hi === t.rows) {
          this.o.log.warn(
            { topic, partition, table: t.table, rows: t.rows, err: errorText(err) },
            'ClickHouse rejected a batch as bad data; bisecting to isolate the bad rows',
          );
        }
        const mid = (lo + hi) >>> 1;
        // Halves are named by their own offsets and row span, so a replay bisects to the same tokens.
        const sub = (a: number, b: number) =>
          this.token(
            topic,
            partition,
            { first: t.messages[a]!.offset, last: t.messages[b - 1]!.offset },
            t.table,
            `rows${a}-${b}`,
          );
        await insert(lo, mid, sub(lo, mid));
        await insert(mid, hi, sub(mid, hi));
      }
    };

    await insert(0, t.rows, this.token(topic, partition, range, t.table));
    if (bad.length) {
      await this.writeDeadLetters(
        batch,
        bad,
        this.token(topic, partition, range, DEAD_LETTERS, t.table),
        bus,
      );
    }
  }

  private async writeDeadLetters(
    batch: ClosedBatch,
    letters: readonly DeadLetter[],
    token: string,
    bus: BusBatch<unknown>,
  ): Promise<void> {
    if (letters.length === 0) return;
    const data = this.o.deadLetters.encode(letters);
    await this.insertRetrying(
      bus,
      batch.topic,
      DEAD_LETTERS,
      this.o.deadLetters.columns,
      data,
      letters.length,
      token,
    );
    this.o.events.deadLettered?.(batch.topic, letters.length, letters[0]!.reason);
    this.o.log.warn(
      {
        topic: batch.topic,
        partition: batch.partition,
        count: letters.length,
        offset: letters[0]!.message.offset,
        reason: letters[0]!.reason,
      },
      'records sent to dead_letters',
    );
  }

  private async insertRetrying(
    bus: BusBatch<unknown>,
    topic: string,
    table: string,
    columns: readonly string[],
    data: Buffer,
    rows: number,
    token: string,
    format: InsertFormat = 'RowBinary',
  ): Promise<void> {
    await withSpan(
      'write',
      {
        'opsight.topic': topic,
        'opsight.partition': bus.partition,
        'db.collection.name': table,
        'opsight.rows': rows,
      },
      () =>
        this.retrying(bus, table, async () => {
          const started = performance.now();
          await insertRowBinary(this.o.client, {
            database: this.o.database,
            table,
            columns,
            data,
            token,
            format,
            clickhouse_settings: INSERT_SETTINGS,
          });
          this.o.events.inserted?.(topic, table, rows, data.length, (performance.now() - started) / 1000);
        }),
    );
  }

  /**
   * Runs fn until it succeeds. Data errors are returned at once (the caller bisects); anything
   * else is ClickHouse being unavailable or overloaded: back off exponentially up to
   * retryMaxDelayMs, heartbeating so the bus keeps the partition, and stop when it goes stale.
   */
  async retrying<T>(bus: BusBatch<unknown>, what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (isDataError(err)) throw err;
        if (bus.isStale())
          throw new StaleBatchError(`${what}: batch went stale while retrying: ${errorText(err)}`);
        const cap = this.o.retryMaxDelayMs;
        const delay = Math.round(
          Math.min(cap, FIRST_RETRY_MS * 2 ** Math.min(attempt, 30)) * (0.8 + Math.random() * 0.2),
        );
        this.o.events.retry?.(what, errorText(err), delay);
        if (attempt === 0 || attempt % 10 === 0) {
          this.o.log.warn(
            {
              topic: bus.topic,
              partition: bus.partition,
              table: what,
              attempt: attempt + 1,
              retryInMs: delay,
              err: errorText(err),
            },
            'ClickHouse insert failed; retrying (the bus holds further messages meanwhile)',
          );
        }
        await this.pause(bus, delay);
      }
    }
  }

  /** Sleeps in slices, heartbeating; throws once the batch is stale. */
  private async pause(bus: BusBatch<unknown>, ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(left, HEARTBEAT_MS));
      if (bus.isStale()) throw new StaleBatchError('batch went stale while waiting to retry');
      await bus.heartbeat().catch(() => {});
    }
  }
}
