import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Bus, BusBatch, BusMessage, Subscription } from '../../core/bus/types.ts';
import { NativeTypeError, compileNativeEncoder } from '../../core/clickhouse/native.ts';
import { compileEncoder, describeTable } from '../../core/clickhouse/rowbinary.ts';
import type { Config } from '../../core/config/schema.ts';
import { logger, type Logger } from '../../core/log.ts';
import { BatchBuilder, type CompiledTable } from './batcher.ts';
import { DeadLetterEncoder } from './dead-letters.ts';
import { StaleBatchError } from './errors.ts';
import { billingMapping } from './map-billing.ts';
import { logsMapping } from './map-logs.ts';
import { metricsMapping } from './map-metrics.ts';
import { tracesMapping } from './map-traces.ts';
import type { TopicMapping } from './mapping.ts';
import { RangeLog, compareOffsets, nextOffset, type OffsetRange } from './ranges.ts';
import type { WriterEvents } from './stats.ts';
import { TableWriter } from './table-writer.ts';

/**
 * The writer role component: consumes opsight.metrics, opsight.logs and opsight.billing in one
 * consumer group and writes them into ClickHouse, exactly once across crashes.
 *
 * Per (topic, partition) the bus hands over a batch of messages; the writer cuts it into
 * ClickHouse batches (maxRows rows or maxBytes encoded bytes), records each batch's offset
 * range in ingest_batches, inserts it with the token topic:partition:first:last:table and
 * returns (so the bus commits) only when every insert is acknowledged. Encoding the next batch
 * overlaps the insert of the previous one. A batch that is not full waits until its oldest
 * record is maxAgeMs old (or maxAgeMs after the partition's last flush, whichever comes first)
 * while the partition is caught up, so a trickle becomes one insert per maxAgeMs rather than
 * one per message; a partition that is behind never waits.
 */

export type WriterConfig = Config['writer'];

export interface WriterOptions {
  bus: Bus;
  clickhouse: ClickHouseClient;
  database: string;
  config: WriterConfig;
  /** Consumer group; also the `group` of ingest_batches. */
  group?: string;
  /** Topic -> table mappings; default metrics, logs and billing. */
  mappings?: TopicMapping<unknown>[];
  events?: WriterEvents;
  /**
   * Namespace of deduplication tokens and recorded ranges. Kafka offsets are durable, so by
   * default there is none and tokens are exactly topic:partition:first:last:table. The
   * in-process bus restarts its offsets at 0 with every process: a random scope per process
   * keeps a new run's batches from being dropped as duplicates of the previous run's.
   */
  tokenScope?: string;
  /** Batches of one partition being inserted while the next is encoded (default 2). */
  maxInFlight?: number;
  log?: Logger;
}

export interface Writer {
  readonly group: string;
  readonly topics: readonly string[];
  /** Stops consuming; the batch in flight is finished and committed first. */
  stop(): Promise<void>;
}

export const DEFAULT_GROUP = 'opsight-writer';

export const DEFAULT_MAPPINGS: TopicMapping<unknown>[] = [
  metricsMapping,
  logsMapping,
  billingMapping,
  tracesMapping,
];

/** Messages encoded between yields to the event loop, so in-flight inserts keep streaming. */
const YIELD_EVERY = 4096;

interface TopicPlan {
  mapping: TopicMapping<unknown>;
  tables: CompiledTable[];
}

async function compileTopic(
  client: ClickHouseClient,
  database: string,
  mapping: TopicMapping<unknown>,
  format: 'native' | 'rowbinary',
  log: Logger,
): Promise<TopicPlan> {
  const tables: CompiledTable[] = [];
  for (const target of mapping.tables) {
    const described = await describeTable(client, database, target.table);
    const types = new Map(described.map((c) => [c.name, c.type]));
    const columns = target.columns(described.map((c) => c.name)).filter((c) => {
      if (types.has(c.name)) return true;
      if (c.ifExists) return false;
      throw new Error(
        `${database}.${target.table} has no column ${c.name}, which the ${mapping.topic} mapping writes`,
      );
    });
    const encoderColumns = columns.map((c) => ({
      name: c.name,
      type: types.get(c.name)!,
      get: c.get,
      optional: c.optional,
      group: c.group,
    }));
    // Equal attribute sets must be equal maps (series identity, sort key, sharding key).
    const options = { sortMapKeys: true };
    let encoder: CompiledTable['encoder'] | undefined;
    if (format === 'native') {
      try {
        encoder = { format: 'Native', compiled: compileNativeEncoder(encoderColumns, options) };
      } catch (err) {
        if (!(err instanceof NativeTypeError)) throw err;
        log.info({ table: target.table, reason: err.message }, 'inserting this table as RowBinary');
      }
    }
    encoder ??= { format: 'RowBinary', compiled: compileEncoder(encoderColumns, options) };
    tables.push({ table: target.table, encoder });
  }
  return { mapping, tables };
}

export async function startWriter(options: WriterOptions): Promise<Writer> {
  const group = options.group ?? DEFAULT_GROUP;
  const log = options.log ?? logger('writer');
  const mappings = options.mappings ?? DEFAULT_MAPPINGS;
  const tokenScope =
    options.tokenScope ?? (options.bus.kind === 'memory' ? randomBytes(6).toString('hex') : '');
  const { clickhouse: client, database, config } = options;

  const plans = new Map<string, TopicPlan>();
  const format = config.format ?? 'native';
  for (const m of mappings) plans.set(m.topic, await compileTopic(client, database, m, format, log));
  const tableWriter = new TableWriter({
    client,
    database,
    group,
    tokenScope,
    retryMaxDelayMs: config.retryMaxDelayMs,
    ranges: await RangeLog.open(client, database),
    deadLetters: await DeadLetterEncoder.open(client, database),
    events: options.events ?? {},
    log,
  });

  const partitions = new Map<string, PartitionWriter>();
  const topics = [...plans.keys()];
  const subscription: Subscription = await options.bus.subscribe<unknown>({
    group,
    topics,
    fromBeginning: true,
    // Room for a few ClickHouse batches per call, so encoding overlaps inserting.
    maxBatchMessages: config.maxRows * 2,
    // Whole batches from either bus: inserts of maxRows rows cost ClickHouse a fraction per row
    // of what the few thousand rows that arrive between two calls cost.
    linger: { records: config.maxRows, ms: config.maxAgeMs, bytes: config.maxBytes },
    handler: async (batch) => {
      const key = `${batch.topic}\u0000${batch.partition}`;
      let pw = partitions.get(key);
      if (!pw) {
        const plan = plans.get(batch.topic);
        if (!plan) throw new Error(`the writer has no mapping for topic ${batch.topic}`);
        pw = new PartitionWriter(plan, batch.topic, batch.partition, tableWriter, config, options, log);
        partitions.set(key, pw);
      }
      await pw.handle(batch);
    },
  });
  log.info({ group, topics, database, tokenScope: tokenScope || undefined }, 'writer started');

  return {
    group,
    topics,
    stop: async () => {
      await subscription.close();
      log.info({ group }, 'writer stopped');
    },
  };
}

/** One (topic, partition): its batch builder, recorded ranges to reproduce, last flush time. */
class PartitionWriter {
  /** The offset the next bus batch should start at; anything else means a replay. */
  private expected: string | undefined;
  /** Recorded batch ranges at or after `expected`, which a replay must reproduce exactly. */
  private recorded: OffsetRange[] = [];
  private lastFlush = 0;
  private readonly builder: BatchBuilder;
  private readonly maxInFlight: number;

  constructor(
    plan: TopicPlan,
    private readonly topic: string,
    private readonly partition: number,
    private readonly writer: TableWriter,
    private readonly config: WriterConfig,
    private readonly options: WriterOptions,
    private readonly log: Logger,
  ) {
    this.builder = new BatchBuilder(plan.mapping, plan.tables, topic, partition);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? config.maxInFlight ?? 2);
  }

  async handle(batch: BusBatch<unknown>): Promise<void> {
    const msgs = batch.messages;
    if (msgs.length === 0) return;
    this.options.events?.received?.(this.topic, msgs.length);
    const first = msgs[0]!.offset;
    if (this.expected !== first) await this.loadRecorded(batch, first);
    // Until this call succeeds, the next one is a redelivery and must re-read the ranges.
    this.expected = undefined;
    try {
      await this.cut(batch, msgs);
    } catch (err) {
      this.abandon();
      if (err instanceof StaleBatchError)
        this.log.info({ topic: this.topic, partition: this.partition }, err.message);
      throw err;
    }
    this.expected = nextOffset(msgs[msgs.length - 1]!.offset);
    this.options.events?.committed?.(this.topic, this.partition, msgs.length);
  }

  private async loadRecorded(batch: BusBatch<unknown>, from: string): Promise<void> {
    this.recorded = await this.writer.retrying(batch, 'ingest_batches', () =>
      this.writer.loadRanges(this.topic, this.partition, from),
    );
    if (this.recorded.length > 0) {
      this.log.info(
        { topic: this.topic, partition: this.partition, from, batches: this.recorded.length },
        'replay: re-cutting redelivered messages at the recorded batch boundaries',
      );
    }
  }

  /** Drops a half-built batch after a failure (the bus redelivers its messages). */
  private abandon(): void {
    if (!this.builder.empty) this.builder.close();
  }

  private async cut(batch: BusBatch<unknown>, msgs: BusMessage<unknown>[]): Promise<void> {
    const builder = this.builder;
    const inflight: Promise<void>[] = [];
    let failure: unknown;
    const flush = async (range?: OffsetRange) => {
      const closed = builder.close(range);
      this.lastFlush = Date.now();
      while (inflight.length >= this.maxInFlight) await inflight.shift();
      if (failure) throw failure;
      inflight.push(
        this.writer.write(closed, batch).catch((err: unknown) => {
          failure ??= err;
        }),
      );
    };

    try {
      await this.cutInto(batch, msgs, flush);
    } finally {
      // Nothing may still be inserting once the handler returns or fails.
      while (inflight.length) await inflight.shift();
    }
    if (failure) throw failure;
  }

  private async cutInto(
    batch: BusBatch<unknown>,
    msgs: BusMessage<unknown>[],
    flush: (range?: OffsetRange) => Promise<void>,
  ): Promise<void> {
    const { maxRows, maxBytes } = this.config;
    const builder = this.builder;
    const recorded = this.recorded;
    let r = 0;
    /** The recorded range the open batch reproduces, if any. */
    let current: OffsetRange | undefined;
    /** A full batch was cut: the partition is busy, the remainder goes without waiting. */
    let busy = false;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const o = m.offset;
      // Ranges that end before this message had no messages in this delivery: nothing to redo.
      while (r < recorded.length && compareOffsets(recorded[r]!.last, o) < 0) r++;
      const range =
        r < recorded.length && compareOffsets(recorded[r]!.first, o) <= 0 ? recorded[r] : undefined;
      if (range !== current) {
        if (!builder.empty) await flush(current);
        current = range;
      }
      builder.add(m);
      // The records of one Kafka pack share its offset: a batch ends between offsets, so that
      // its recorded range, and a replay's re-cut, never split a pack.
      const offsetEnds = i + 1 === msgs.length || msgs[i + 1]!.offset !== o;
      if (offsetEnds && current) {
        if (compareOffsets(o, current.last) >= 0) {
          await flush(current);
          current = undefined;
          r++;
        }
      } else if (offsetEnds && (builder.rows >= maxRows || builder.bytes >= maxBytes)) {
        await flush();
        busy = true;
      }
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToIo();
    }

    if (!builder.empty) {
      const lastOffset = msgs[msgs.length - 1]!.offset;
      if (current) {
        // The redelivery ended inside a recorded batch (the bus cut it shorter than before).
        // The part we have becomes a batch of its own, recorded anew; the rest is cut the same
        // way when it arrives. Should the first attempt have landed, that batch is duplicated.
        this.log.warn(
          { topic: this.topic, partition: this.partition, recorded: current, deliveredUpTo: lastOffset },
          'replay ended inside a recorded batch; re-cutting it (duplicates possible if it had landed)',
        );
        await flush({ first: current.first, last: lastOffset });
        recorded[r] = { first: nextOffset(lastOffset), last: current.last };
      } else {
        if (!busy) await this.waitForAge(batch, msgs[msgs.length - 1]!);
        await flush();
      }
    }
    this.recorded = recorded.slice(r);
  }

  /**
   * maxAgeMs: a batch that is not full stays open until its oldest record is maxAgeMs old, or
   * maxAgeMs after this partition's last flush (a lone record after a quiet spell goes at once).
   * It only waits while the partition is caught up (this delivery filled no batch and its newest
   * message is younger than maxAgeMs): behind, the bus has more to give and waiting would only
   * slow the catch-up.
   */
  private async waitForAge(batch: BusBatch<unknown>, newest: BusMessage<unknown>): Promise<void> {
    const { maxAgeMs, maxRows, maxBytes } = this.config;
    const b = this.builder;
    if (b.rows >= maxRows || b.bytes >= maxBytes) return;
    const now = Date.now();
    if (now - newest.timestamp > maxAgeMs) return;
    const deadline = Math.min(b.oldest + maxAgeMs, this.lastFlush + maxAgeMs, now + maxAgeMs);
    while (Date.now() < deadline && !batch.isStale()) {
      await sleep(Math.min(deadline - Date.now(), 1000));
      await batch.heartbeat().catch(() => {});
    }
  }
}
