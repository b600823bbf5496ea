/**
 * The bus: publish batches to a topic; consume a topic in a consumer group with
 * at-least-once delivery. A handler's promise resolving means "this batch is durable",
 * and only then is the batch's offset committed. Kafka implements it for scale-out,
 * the in-process bus for a single process.
 */

export interface OutgoingRecord<T = unknown> {
  /** Series or service identity: one key always lands on one partition. */
  key: string | null;
  value: T;
  /** Records the value packs (MetricSamples); the in-process bus's backpressure counts them. Default 1. */
  count?: number;
}

export interface BusMessage<T = unknown> {
  topic: string;
  partition: number;
  /**
   * Offsets are decimal strings, as in Kafka (int64). Records that travelled packed in one Kafka
   * message (core/bus/kafka.ts, PACK_BYTES) share its offset, so offsets never decrease.
   */
  offset: string;
  key: string | null;
  value: T;
  /** Publish time, Unix milliseconds. */
  timestamp: number;
}

export interface BusBatch<T = unknown> {
  topic: string;
  partition: number;
  messages: BusMessage<T>[];
  /** Keep a slow handler alive in its group (Kafka session heartbeats); cheap to call often. */
  heartbeat(): Promise<void>;
  /** True once the bus is shutting down or the partition was revoked: stop retrying and return. */
  isStale(): boolean;
}

export type BatchHandler<T = unknown> = (batch: BusBatch<T>) => Promise<void>;

export interface SubscribeOptions<T = unknown> {
  group: string;
  topics: string[];
  handler: BatchHandler<T>;
  /** Where a group with no committed offset starts; default true (read everything). */
  fromBeginning?: boolean;
  /** Upper bound on messages handed to the handler at once. */
  maxBatchMessages?: number;
  /**
   * Hand a partition over once `records` records wait in it or its oldest waiting message is
   * `ms` old, and at most `records` records at a time (at least one message): what Kafka's
   * fetch.min.bytes and fetch.max.wait.ms do for a broker, so a consumer that inserts in bulk
   * gets whole batches rather than whatever arrived since its last call. The in-process bus
   * counts records; Kafka counts bytes (`bytes`, its fetch.min.bytes) and waits at most `ms`
   * (fetch.max.wait.ms), fetching up to `bytes` at a time.
   */
  linger?: { records: number; ms: number; bytes?: number };
}

export interface Subscription {
  /** Stops fetching, waits for the batch in flight and commits it. */
  close(): Promise<void>;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor?: number;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

export interface Bus {
  readonly kind: 'memory' | 'kafka';
  /** Creates missing topics; existing ones are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  publish<T>(topic: string, records: OutgoingRecord<T>[]): Promise<void>;
  /**
   * The topic's partition count once known (after ensureTopics), so a source packing many
   * records into one message per partition can key each message to land where its records'
   * own keys would (partitionFor). undefined: not known, publish one record per key.
   */
  partitionCount?(topic: string): number | undefined;
  subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription>;
  /** Messages published but not yet committed by the group, per partition (a pack is one). */
  lag(group: string, topic: string): Promise<PartitionLag[]>;
  /** Reachability for /readyz. */
  ping(): Promise<boolean>;
  /** Graceful: closes subscriptions (draining in-flight batches), then producers. */
  close(): Promise<void>;
}

/**
 * Publishing could not be done now (broker unreachable, in-process bus full past its wait):
 * nothing of the batch was published, and the sender should retry later (HTTP 503).
 */
export class BusUnavailableError extends Error {
  override readonly name = 'BusUnavailableError';
}
