import { randomInt } from 'node:crypto';
import {
  CompressionTypes,
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type ICustomPartitioner,
  type KafkaMessage,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import { logger as rootLogger, type Logger } from '../log.ts';
import { murmur2, partitionFor } from './partitioner.ts';
import { INGEST_TOPICS } from './topics.ts';
import type {
  Bus,
  BusBatch,
  BusMessage,
  OutgoingRecord,
  PartitionLag,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './types.ts';

/**
 * The Kafka bus (kafkajs). Same contract as the in-process bus:
 *
 * - Values travel as JSON. A bigint becomes its decimal string (JSON has no int64), so a record
 *   published with `timeUnixNano: 123n` is consumed with `timeUnixNano: '123'`; the canonical
 *   records allow both. The message key is the record key, partitioned as Java's and
 *   kafkajs's default partitioners do (murmur2), which is core/bus/partitioner.ts.
 * - publish() resolves once every record is acknowledged by all in-sync replicas (acks=-1: with
 *   one broker it costs nothing, with a cluster it is what "durable" means). One send() per
 *   call, split only to keep each request under the broker's default 1 MB batch limit. Not
 *   kafkajs's idempotent mode: it is experimental, and with bounded retries an ambiguous
 *   failure can make the broker drop a later batch as a "duplicate". So a retried request may
 *   duplicate records (at-least-once, like the consumer side); ensureTopics() waits for new
 *   partitions' leaders, the usual cause of retries.
 * - One kafkajs consumer per subscribe(). A fetched batch is handed over in chunks of at most
 *   maxBatchMessages; a chunk's offset is committed only after its handler resolved. A handler
 *   that throws commits nothing: the consumer seeks back to the chunk's first offset and
 *   redelivers it after a backoff (at-least-once).
 * - An unreachable Kafka at start is retried with exponential backoff (one warn line per
 *   attempt), bounded by connectTimeoutMs when that is > 0.
 */

export interface KafkaBusOptions {
  brokers: string[];
  clientId?: string;
  /** Give up connecting after this long (0 = keep retrying). */
  connectTimeoutMs?: number;
  /** gzip trades producer CPU for bytes on the wire; lz4/snappy/zstd need codecs kafkajs lacks. */
  compression?: 'none' | 'gzip';
  /** First redelivery delay after a handler failure; doubles up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Longest fetch long-poll (a subscription with a linger waits its linger.ms instead); also
   * bounds how long close() waits for an idle consumer.
   */
  maxWaitTimeMs?: number;
  /**
   * How soon the group hands a dead member's partitions to others (kafkajs default 30 s).
   * Handlers are heartbeated in the background, so a slow one is not mistaken for dead.
   */
  sessionTimeoutMs?: number;
  /** Partitions whose batches a subscription handles at the same time (default 4). */
  partitionsConsumedConcurrently?: number;
  /**
   * Topics whose records are packed, several to a Kafka message (PACK_BYTES). Default: the
   * ingest topics (metrics, logs, billing, traces). Alerts and incidents stay one message a
   * record, as other tools read them.
   */
  pack?: (topic: string) => boolean;
  logger?: Logger;
}

const PACKED = new Set(INGEST_TOPICS);
const packIngestTopics = (topic: string) => PACKED.has(topic);

const MIB = 1024 * 1024;
const MAX_SEND_BYTES = 900 * 1024;
/**
 * Records of one partition published together travel as one Kafka message of up to this many
 * bytes: the values as JSON lines (as ClickHouse's Kafka engine reads JSONEachRow), their count
 * and keys in headers. kafkajs spends more per message (record framing, Buffer slices, Long
 * offsets) than JSON costs per record, so a message per log line capped a process at ~14k
 * lines/s through Kafka.
 */
const PACK_BYTES = 256 * 1024;
const PACK_COUNT = 'opsight-pack';
const PACK_KEYS = 'opsight-keys';
const NEWLINE = Buffer.from('\n');

type OutgoingMessage = {
  key: string | null;
  value: Buffer | null;
  partition?: number;
  headers?: Record<string, string>;
};
const MAX_CONNECT_DELAY_MS = 10_000;
const DEFAULT_MAX_BATCH = 10_000;

/**
 * JSON has no bigint and turns NaN and ±Infinity into null, yet both occur in records (int64
 * offsets and nanoseconds; NaN gauges, +Inf bucket bounds). They travel as decimal strings
 * (bigint) and as NUL-prefixed marker strings (non-finite numbers) that decodeValue restores.
 */
const NONFINITE: Record<string, number> = {
  '\u0000NaN': NaN,
  '\u0000Infinity': Infinity,
  '\u0000-Infinity': -Infinity,
};

const fullReplacer = (_k: string, v: unknown) => {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return `\u0000${v}`;
  return v;
};

const nonFiniteReviver = (_k: string, v: unknown) =>
  typeof v === 'string' && v.charCodeAt(0) === 0 && v in NONFINITE ? NONFINITE[v] : v;

/**
 * A replacer slows JSON.stringify by ~40% and a thrown TypeError far more, so an encoder starts
 * without one and keeps it once a value needed it (the records of one batch look alike). A plain
 * encoding that contains `null` is redone with the replacer: the null may have been a NaN.
 */
export function jsonEncoder(): (value: unknown) => Buffer | null {
  let sticky = false;
  return (value) => {
    if (value === undefined) return null;
    if (sticky) return Buffer.from(JSON.stringify(value, fullReplacer));
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      if (!(err instanceof TypeError) || !/bigint/i.test(err.message)) throw err;
      sticky = true;
      return Buffer.from(JSON.stringify(value, fullReplacer));
    }
    return Buffer.from(text.includes('null') ? JSON.stringify(value, fullReplacer) : text);
  };
}

/** The inverse of jsonEncoder: restores NaN and ±Infinity; the reviver runs only when needed. */
export function decodeValue(text: string): unknown {
  return text.includes('\\u0000') ? JSON.parse(text, nonFiniteReviver) : JSON.parse(text);
}

export const encodeValue = (value: unknown): Buffer | null => jsonEncoder()(value);

/**
 * kafkajs's default partitioner (Java's: murmur2 of the key, positive, modulo the partition
 * count; round-robin without a key) computed with core/bus/partitioner.ts, whose Math.imul
 * murmur2 is much cheaper than kafkajs's Long-based one (10% of producer CPU). That the two
 * agree on every key is checked in test/bus/kafka.test.ts.
 */
export const javaCompatiblePartitioner: ICustomPartitioner = () => {
  let next = randomInt(1 << 30);
  return ({ partitionMetadata, message }) => {
    if (message.partition !== undefined && message.partition !== null) return message.partition;
    const { key } = message;
    const n = partitionMetadata.length;
    if (typeof key === 'string') return partitionFor(key, n);
    if (key) return (murmur2(key) & 0x7fffffff) % n;
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    const pool = available.length > 0 ? available : partitionMetadata;
    return pool[next++ % pool.length]!.partitionId;
  };
};

/** Records a consumed Kafka message holds: a pack's count, else one. */
function recordsIn(m: KafkaMessage): number {
  const count = m.headers?.[PACK_COUNT];
  return count === undefined ? 1 : Math.max(1, Number(String(count)) || 1);
}

/** The innermost cause of a kafkajs error, which names the real problem (ECONNREFUSED, ...). */
function reason(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let i = 0; i < 5 && e; i++) {
    const next = (e.cause ?? e.originalError) as typeof e;
    if (!next?.message) break;
    e = next;
  }
  return e?.message ?? String(err);
}

// kafkajs lines that our own retry or kafkajs's restart already handles and reports once.
const NOISY = [
  /KafkaJSNumberOfRetriesExceeded/,
  /Restarting the consumer in/,
  /group coordinator is not available/i,
  /coordinator is (loading|not available)/i,
  // Leadership moving (or a new topic's leader starting); kafkajs retries, then throws to the caller.
  /not the leader for that topic-partition/i,
];
const REPEAT_WINDOW_MS = 30_000;

export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  readonly brokers: string[];
  private readonly kafka: Kafka;
  private readonly log: Logger;
  private readonly admin: Admin;
  /** No retries, so connection attempts and ping() fail fast; our loop does the retrying. */
  private readonly probe: Admin;
  private readonly producer: Producer;
  private readonly subs = new Set<KafkaSubscription>();
  private readonly sending = new Set<Promise<unknown>>();
  private connecting: Promise<void> | undefined;
  private connected = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private wakeConnect: (() => void) | undefined;
  private readonly recentLines = new Map<string, number>();
  readonly opts: Required<Omit<KafkaBusOptions, 'logger'>>;

  constructor(options: KafkaBusOptions) {
    if (options.brokers.length === 0) throw new Error('KafkaBus needs at least one broker');
    this.opts = {
      clientId: 'opsight',
      connectTimeoutMs: 0,
      compression: 'none',
      retryDelayMs: 500,
      maxRetryDelayMs: 10_000,
      maxWaitTimeMs: 1000,
      sessionTimeoutMs: 10_000,
      partitionsConsumedConcurrently: 4,
      pack: packIngestTopics,
      ...options,
    };
    this.brokers = options.brokers;
    this.log = options.logger ?? rootLogger('bus.kafka');
    const client = {
      brokers: this.brokers,
      clientId: this.opts.clientId,
      connectionTimeout: 3000,
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.kafkaLog(entry),
    };
    this.kafka = new Kafka(client);
    this.admin = this.kafka.admin();
    // A client of its own: connection retries are a client-wide setting in kafkajs.
    this.probe = new Kafka({ ...client, retry: { retries: 0 } }).admin();
    this.producer = this.kafka.producer({
      // Explicit, which also silences kafkajs's v2 partitioner-change warning.
      createPartitioner: javaCompatiblePartitioner,
      allowAutoTopicCreation: true,
    });
  }

  /**
   * The kafkajs client (brokers, client id, logging as configured here), for the few things that
   * are not the bus contract: the leader election's consumer (core/bus/leader.ts).
   */
  get client(): Kafka {
    return this.kafka;
  }

  /** kafkajs's logger into ours: warn and error only, known noise and repeats demoted to debug. */
  private kafkaLog({ namespace, level, log }: LogEntry): void {
    const { message, error, groupId, topic, partition, broker } = log as Record<string, unknown> & {
      message: string;
    };
    let lvl: 'error' | 'warn' | 'info' | 'debug' =
      level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
    if (lvl === 'error' || lvl === 'warn') {
      const key = `${namespace}|${message}|${String(error)}`;
      const now = Date.now();
      const last = this.recentLines.get(key);
      const text = `${message} ${typeof error === 'string' ? error : ''}`;
      // Before the first connection our retry loop reports; afterwards one line per outage.
      if (!this.connected || NOISY.some((re) => re.test(text)) || (last && now - last < REPEAT_WINDOW_MS)) {
        lvl = 'debug';
      } else {
        this.recentLines.set(key, now);
        if (this.recentLines.size > 1000) this.recentLines.clear();
      }
    }
    this.log[lvl]({ kafkajs: namespace, error, groupId, topic, partition, broker }, `kafkajs: ${message}`);
  }

  /**
   * Connects the admin and producer clients, retrying with exponential backoff (capped at 10 s)
   * while Kafka is unreachable. Called by every operation; safe to call early and often.
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('bus is closed'));
    this.connecting ??= this.connectLoop().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    const started = Date.now();
    const limit = this.opts.connectTimeoutMs;
    const where = `Kafka ${this.brokers.join(',')}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.probe.connect();
        await this.probe.describeCluster();
        await this.admin.connect();
        await this.producer.connect();
        this.connected = true;
        this.log.info({ brokers: this.brokers }, `connected to ${where}`);
        return;
      } catch (err) {
        if (this.closed) throw new Error('bus is closed');
        const elapsed = Date.now() - started;
        if (limit > 0 && elapsed >= limit) {
          throw new Error(
            `${where} unreachable for ${Math.round(elapsed / 1000)} s ` +
              `(kafka.connectTimeoutMs = ${limit}): ${reason(err)}`,
          );
        }
        let delay = Math.min(MAX_CONNECT_DELAY_MS, 500 * 2 ** (attempt - 1));
        if (limit > 0) delay = Math.min(delay, limit - elapsed);
        this.log.warn(
          { brokers: this.brokers, attempt },
          `${where} unreachable, retrying in ${(delay / 1000).toFixed(delay < 1000 ? 1 : 0)}s: ${reason(err)}`,
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wakeConnect = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeConnect = undefined;
        if (this.closed) throw new Error('bus is closed');
      }
    }
  }

  /** Partition counts of the topics ensureTopics created or found. */
  private readonly partitionCounts = new Map<string, number>();

  partitionCount(topic: string): number | undefined {
    return this.partitionCounts.get(topic);
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    if (specs.length === 0) return;
    await this.connect();
    const existing = new Set(await this.admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.name));
    if (missing.length > 0) {
      // Returns false (no throw) when another process created them first.
      await this.admin.createTopics({
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          // -1: the broker's default.replication.factor
          replicationFactor: s.replicationFactor ?? -1,
        })),
        // kafkajs' own wait retries only LEADER_NOT_AVAILABLE, while a loaded broker may answer
        // UNKNOWN_TOPIC_OR_PARTITION for a moment first; untilServed retries every retriable error.
        waitForLeaders: false,
      });
      await Promise.all(missing.map((s) => this.untilServed(s.name)));
      this.log.info({ topics: missing.map((s) => s.name) }, 'created Kafka topics');
    }
    // Every topic's real count (another process may have created one first, differently).
    const present = specs.filter((s) => existing.has(s.name));
    const { topics } = await this.admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
    for (const t of topics) {
      this.partitionCounts.set(t.name, t.partitions.length);
      const want = present.find((s) => s.name === t.name)?.partitions;
      if (want !== undefined && t.partitions.length !== want) {
        // Left alone on purpose: changing the count moves keys to other partitions.
        this.log.warn(
          { topic: t.name, partitions: t.partitions.length, configured: want },
          `topic ${t.name} has ${t.partitions.length} partitions, configured ${want}; left as it is`,
        );
      }
    }
  }

  /**
   * A new partition's leader may not serve yet. A produce then fails for that partition and
   * kafkajs resends the whole request, duplicating the partitions that had succeeded; so wait
   * until ListOffsets, which goes to each leader, answers for every partition.
   */
  private async untilServed(topic: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.admin.fetchTopicOffsets(topic);
        return;
      } catch (err) {
        const e = err as { retriable?: boolean; cause?: { retriable?: boolean } };
        if (!(e.retriable || e.cause?.retriable) || attempt >= 300) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async publish<T>(topic: string, records: OutgoingRecord<T>[]): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    if (records.length === 0) return;
    await this.connect();
    const compression = this.opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    let chunk: OutgoingMessage[] = [];
    let bytes = 0;
    const send = async () => {
      const p = this.producer.send({ topic, messages: chunk, acks: -1, compression });
      this.sending.add(p);
      try {
        await p;
      } finally {
        this.sending.delete(p);
      }
    };
    for (const m of this.messagesOf(topic, records)) {
      const size = (m.value?.length ?? 0) + (m.key?.length ?? 0) + (m.headers?.[PACK_KEYS]?.length ?? 0) + 64;
      if (bytes + size > MAX_SEND_BYTES && chunk.length > 0) {
        // Sequential sends keep per-key order even when a request is retried.
        await send();
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += size;
    }
    await send();
  }

  /** Null-key records of a publish share a partition, the next one each time. */
  private nextNullPartition = randomInt(1 << 30);

  /**
   * The Kafka messages of a publish: a record alone when the topic's partition count is not
   * known or a partition gets one record, else packs of the records of one partition in their
   * order (per-key order holds: a key always maps to one partition).
   */
  private messagesOf(topic: string, records: OutgoingRecord<unknown>[]): OutgoingMessage[] {
    const encode = jsonEncoder();
    const n = this.partitionCounts.get(topic);
    if (n === undefined || records.length < 2 || !this.opts.pack(topic))
      return records.map((r) => ({ key: r.key, value: encode(r.value) }));
    const nullPartition = this.nextNullPartition++ % n;
    type Pack = { keys: (string | null)[]; values: (Buffer | null)[]; bytes: number };
    const packs = new Map<number, Pack>();
    const out: OutgoingMessage[] = [];
    const close = (partition: number, pack: Pack) => {
      if (pack.keys.length === 1) {
        out.push({ key: pack.keys[0]!, value: pack.values[0]!, partition });
        return;
      }
      const parts: Buffer[] = [];
      pack.values.forEach((v, i) => {
        if (i > 0) parts.push(NEWLINE);
        if (v) parts.push(v); // an empty line is a null value
      });
      out.push({
        key: pack.keys[0]!,
        value: Buffer.concat(parts),
        partition,
        headers: { [PACK_COUNT]: String(pack.keys.length), [PACK_KEYS]: JSON.stringify(pack.keys) },
      });
    };
    for (const r of records) {
      const partition = r.key === null ? nullPartition : partitionFor(r.key, n);
      const value = encode(r.value);
      const size = (value?.length ?? 0) + (r.key?.length ?? 0) + 8;
      let pack = packs.get(partition);
      if (pack && pack.bytes + size > PACK_BYTES) {
        close(partition, pack);
        pack = undefined;
      }
      if (!pack) packs.set(partition, (pack = { keys: [], values: [], bytes: 0 }));
      pack.keys.push(r.key);
      pack.values.push(value);
      pack.bytes += size;
    }
    for (const [partition, pack] of packs) close(partition, pack);
    return out;
  }

  async subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription> {
    if (this.closed) throw new Error('bus is closed');
    await this.connect();
    const sub = new KafkaSubscription(this.kafka, options as SubscribeOptions<unknown>, this.opts, this.log);
    this.subs.add(sub);
    try {
      await sub.start();
    } catch (err) {
      this.subs.delete(sub);
      throw err;
    }
    return {
      close: async () => {
        await sub.close();
        this.subs.delete(sub);
      },
    };
  }

  /**
   * The group's committed offsets. kafkajs's admin does not retry a coordinator that is still
   * loading or has moved (a new group on a busy broker, a broker restart), so this does.
   */
  private async committedOffsets(group: string, topic: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
      } catch (err) {
        if (!(err as { retriable?: boolean }).retriable || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  async lag(group: string, topic: string): Promise<PartitionLag[]> {
    await this.connect();
    // Asking for offsets of a missing topic would retry for a while; the memory bus returns [].
    if (!(await this.admin.listTopics()).includes(topic)) return [];
    const [ends, committed] = await Promise.all([
      this.admin.fetchTopicOffsets(topic),
      this.committedOffsets(group, topic),
    ]);
    const done = new Map(committed[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
    return ends
      .map(({ partition, high, low }) => {
        const c = done.get(partition) ?? -1n;
        // No commit yet: the group would start at the oldest retained message.
        const from = c >= 0n ? c : BigInt(low);
        return { topic, partition, lag: Number(BigInt(high) - from) };
      })
      .sort((a, b) => a.partition - b.partition);
  }

  async ping(timeoutMs = 2000): Promise<boolean> {
    if (this.closed) return false;
    const check = (async () => {
      await this.probe.connect();
      await this.probe.describeCluster();
      return true;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([check.catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.wakeConnect?.();
      await Promise.allSettled([...this.subs].map((s) => s.close()));
      this.subs.clear();
      await Promise.allSettled([...this.sending]);
      await Promise.allSettled([
        this.producer.disconnect(),
        this.admin.disconnect(),
        this.probe.disconnect(),
      ]);
      await this.connecting?.catch(() => {});
    })();
    return this.closing;
  }
}

class KafkaSubscription {
  private consumer: Consumer | undefined;
  private closing = false;
  private failures = 0;
  private wake: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private readonly maxBatch: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: SubscribeOptions<unknown>,
    private readonly opts: KafkaBus['opts'],
    private readonly log: Logger,
  ) {
    this.maxBatch = Math.max(1, options.maxBatchMessages ?? DEFAULT_MAX_BATCH);
  }

  /** Resolves once the consumer has joined its group (or close() was called). */
  start(): Promise<void> {
    this.starting = this.startLoop();
    return this.starting;
  }

  private async startLoop(): Promise<void> {
    const { group, topics } = this.options;
    for (let attempt = 1; !this.closing; attempt++) {
      const consumer = this.kafka.consumer({
        groupId: group,
        sessionTimeout: this.opts.sessionTimeoutMs,
        ...this.fetchSizes(),
      });
      this.consumer = consumer;
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (this.closing || this.consumer !== consumer) return;
        const why = reason(payload.error);
        if (payload.restart) {
          // A coordinator still loading (fresh broker, moved group) is routine; anything else is worth a look.
          const routine = NOISY.some((re) => re.test(why));
          this.log[routine ? 'info' : 'warn'](
            { group, topics },
            `consumer of group ${group} stopped, kafkajs restarts it: ${why}`,
          );
        } else {
          // kafkajs gives up on non-retriable errors; we do not leave the group unconsumed.
          this.log.error({ group, topics }, `consumer of group ${group} crashed, recreating: ${why}`);
          void this.restart();
        }
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: this.options.fromBeginning ?? true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          // Partitions are independent (one key, one partition), so their batches may be handled
          // side by side: the handler of one waits on ClickHouse while another's is decoded.
          partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
          eachBatch: (payload) => this.eachBatch(consumer, payload),
        });
        return;
      } catch (err) {
        await consumer.disconnect().catch(() => {});
        if (this.closing) return;
        const delay = Math.min(MAX_CONNECT_DELAY_MS, 500 * 2 ** (attempt - 1));
        this.log.warn(
          { group, topics },
          `consumer of group ${group} could not start, retrying in ${delay} ms: ${reason(err)}`,
        );
        await this.pause(delay);
      }
    }
  }

  /**
   * Bigger fetches than kafkajs's 1 MB default: fewer round trips, ~30% more msgs/s. With a
   * linger the broker holds each fetch until `linger.bytes` are there or `linger.ms` passed,
   * as the in-process bus holds a partition, so a writer inserts what arrived over a second
   * rather than the few thousand rows of one round trip. A fetch still spans as many
   * partitions as are handled at once, so a group catching up works on several side by side.
   */
  private fetchSizes() {
    const linger = this.options.linger;
    const bytes = linger?.bytes ?? 0;
    const perPartition = Math.max(4 * MIB, Math.floor(bytes / this.opts.partitionsConsumedConcurrently));
    return {
      minBytes: Math.max(1, bytes),
      // kafkajs heartbeats between fetches only: a wait near the session timeout would cost
      // the member its partitions.
      maxWaitTimeInMs: linger
        ? Math.min(linger.ms, Math.floor(this.opts.sessionTimeoutMs / 3))
        : this.opts.maxWaitTimeMs,
      maxBytesPerPartition: perPartition,
      maxBytes: Math.max(32 * MIB, bytes),
    };
  }

  private async restart(): Promise<void> {
    await this.consumer?.disconnect().catch(() => {});
    await this.pause(this.opts.retryDelayMs);
    if (!this.closing) await this.start();
  }

  private async eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    let rebalance: unknown;
    const heartbeat = async () => {
      try {
        await payload.heartbeat();
      } catch (err) {
        rebalance = err;
        throw err;
      }
    };
    const stale = () => this.closing || !payload.isRunning() || payload.isStale();
    for (let i = 0; i < batch.messages.length;) {
      // Closing: the chunk in flight was committed; the rest is redelivered to the next member.
      if (stale()) return;
      // Up to maxBatch records (a pack counts its records), at least one Kafka message.
      let end = i + 1;
      for (let records = recordsIn(batch.messages[i]!); end < batch.messages.length; end++) {
        records += recordsIn(batch.messages[end]!);
        if (records > this.maxBatch) break;
      }
      const chunk = batch.messages.slice(i, end);
      i = end;
      const first = chunk[0]!.offset;
      const last = chunk[chunk.length - 1]!.offset;
      const messages = this.decode(topic, partition, chunk);
      if (messages.length > 0) {
        const busBatch: BusBatch<unknown> = { topic, partition, messages, heartbeat, isStale: stale };
        // kafkajs heartbeats only when asked to. Asking in the background while the handler works
        // keeps a slow handler (a large insert) in the group without it having to call
        // heartbeat(); kafkajs sends at most one per heartbeat interval, so this is cheap.
        const beat = setInterval(() => void heartbeat().catch(() => {}), 1000);
        try {
          await this.options.handler(busBatch);
        } catch (err) {
          // Lost the partition mid-batch: let kafkajs rejoin; nothing was committed.
          if (rebalance) throw rebalance;
          const delay = Math.min(this.opts.maxRetryDelayMs, this.opts.retryDelayMs * 2 ** this.failures++);
          this.log.error(
            { err, topic, partition, group: this.options.group, firstOffset: first, lastOffset: last },
            `handler failed on ${topic}[${partition}] offsets ${first}..${last}, redelivering in ${delay} ms`,
          );
          consumer.seek({ topic, partition, offset: first });
          await this.pause(delay, heartbeat);
          return;
        } finally {
          clearInterval(beat);
        }
      }
      this.failures = 0;
      payload.resolveOffset(last);
      // Direct commit through the batch payload: unlike consumer.commitOffsets it still works
      // while the consumer is stopping, which is how close() commits the in-flight batch.
      const commit = payload.commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(last) + 1n).toString() }] }],
      });
      if (rebalance) {
        // The group is rebalancing: the broker still takes this generation's commit if it can
        // (else the chunk is redelivered), then kafkajs must rejoin.
        await commit.catch(() => {});
        throw rebalance;
      }
      await commit;
    }
  }

  private decode(topic: string, partition: number, chunk: KafkaMessage[]): BusMessage[] {
    const out: BusMessage[] = [];
    for (const m of chunk) {
      if (m.headers?.[PACK_COUNT] !== undefined) {
        this.unpack(topic, partition, m, out);
        continue;
      }
      let value: unknown = null;
      if (m.value) {
        try {
          value = decodeValue(m.value.toString('utf8'));
        } catch (err) {
          // Not ours (we only publish JSON): skipping beats blocking the partition forever.
          this.log.error(
            { topic, partition, offset: m.offset, err: (err as Error).message },
            `skipping a message that is not JSON at ${topic}[${partition}] offset ${m.offset}`,
          );
          continue;
        }
      }
      out.push({
        topic,
        partition,
        offset: m.offset,
        key: m.key ? m.key.toString('utf8') : null,
        value,
        timestamp: Number(m.timestamp),
      });
    }
    return out;
  }

  /** The records of a pack (see PACK_BYTES), each with the pack's offset and its own key. */
  private unpack(topic: string, partition: number, m: KafkaMessage, out: BusMessage[]): void {
    const at = out.length;
    try {
      const keys = JSON.parse(String(m.headers![PACK_KEYS])) as unknown;
      const lines = m.value ? m.value.toString('utf8').split('\n') : [];
      if (
        !Array.isArray(keys) ||
        keys.length !== lines.length ||
        keys.length !== Number(String(m.headers![PACK_COUNT]))
      )
        throw new Error(
          `a pack of ${String(m.headers![PACK_COUNT])} with ${lines.length} lines and keys ${String(m.headers![PACK_KEYS]).slice(0, 80)}`,
        );
      const timestamp = Number(m.timestamp);
      for (let i = 0; i < lines.length; i++) {
        const key = keys[i] as unknown;
        out.push({
          topic,
          partition,
          offset: m.offset,
          key: typeof key === 'string' ? key : null,
          value: lines[i] === '' ? null : decodeValue(lines[i]!),
          timestamp,
        });
      }
    } catch (err) {
      out.length = at;
      this.log.error(
        { topic, partition, offset: m.offset, err: (err as Error).message },
        `skipping a pack that does not decode at ${topic}[${partition}] offset ${m.offset}`,
      );
    }
  }

  /** Sleeps, heartbeating so a long backoff does not cost the group membership; close() wakes it. */
  private async pause(ms: number, heartbeat?: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (!this.closing && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(1000, until - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (heartbeat && !this.closing) await heartbeat();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.starting?.catch(() => {});
    // Waits for the running eachBatch, which commits the chunk in flight.
    await this.consumer?.disconnect().catch((err: unknown) => {
      this.log.warn({ group: this.options.group, err: reason(err) }, 'consumer disconnect failed');
    });
  }
}
