import { EventEmitter } from 'node:events';
import {
  BusUnavailableError,
  type Bus,
  type BusBatch,
  type BusMessage,
  type OutgoingRecord,
  type PartitionLag,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from './types.ts';
import { partitionFor } from './partitioner.ts';

/**
 * In-process bus: the embedded default. Same contract as Kafka (partitions by key, consumer
 * groups, commit after the handler resolves, redelivery on failure) but held in memory, so it
 * survives nothing: records published and not yet handled are lost if the process dies.
 * Backpressure: publish waits while a subscribed group is more than `highWater` records behind
 * (a packed message counts as the records it carries).
 */

interface Log {
  /** Offset of messages[0]. */
  base: number;
  messages: BusMessage[];
  /** Records (OutgoingRecord.count) up to and including each message, from `countBase` on. */
  counts: number[];
  /** Records in the messages before `base`. */
  countBase: number;
}

/** Records in the log before `offset`. */
function countBefore(log: Log, offset: number): number {
  const i = Math.min(offset - log.base, log.counts.length);
  return i <= 0 ? log.countBase : log.counts[i - 1]!;
}

/**
 * The end offset (in (from, stop]) of the longest run of messages from `from` holding at most
 * `limit - countBefore(from)` records, but at least one message (binary search on counts).
 */
function recordsUpTo(log: Log, from: number, stop: number, limit: number): number {
  let lo = from + 1;
  let hi = stop;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (countBefore(log, mid) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

interface Topic {
  partitions: Log[];
  /** group -> committed offset (next to read) per partition */
  groups: Map<string, number[]>;
  /**
   * key -> partition: sources reuse one key string per series/stream, whose hash V8 keeps,
   * so a lookup here is cheaper than murmur2 over a fresh Buffer of the key for every record.
   */
  partitionOf: Map<string, number>;
}

/** Keys remembered per topic before the cache starts over. */
const MAX_CACHED_KEYS = 100_000;

/** Records a consumer group may be behind before publishers wait, unless configured. */
export const DEFAULT_HIGH_WATER = 200_000;

export interface MemoryBusOptions {
  defaultPartitions?: number;
  /** Records a group may be behind before publishers wait. */
  highWater?: number;
  /** Retained messages per partition for topics nobody consumes. */
  retention?: number;
  retryDelayMs?: number;
  /** How long publish waits for a lagging group before giving up with BusUnavailableError. */
  publishTimeoutMs?: number;
  onHandlerError?: (err: unknown, topic: string, partition: number) => void;
}

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Topic>();
  private readonly events = new EventEmitter();
  private readonly subs = new Set<MemorySubscription>();
  private readonly opts: Required<Omit<MemoryBusOptions, 'onHandlerError'>> & MemoryBusOptions;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.opts = {
      defaultPartitions: 4,
      highWater: DEFAULT_HIGH_WATER,
      retention: 100_000,
      retryDelayMs: 500,
      publishTimeoutMs: 30_000,
      ...options,
    };
    this.events.setMaxListeners(0);
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    for (const spec of specs) this.topic(spec.name, spec.partitions);
  }

  private topic(name: string, partitions = this.opts.defaultPartitions): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = {
        partitions: Array.from({ length: partitions }, () => ({
          base: 0,
          messages: [],
          counts: [],
          countBase: 0,
        })),
        groups: new Map(),
        partitionOf: new Map(),
      };
      this.topics.set(name, t);
    }
    return t;
  }

  partitionCount(topicName: string): number | undefined {
    return this.topics.get(topicName)?.partitions.length;
  }

  async publish<T>(topicName: string, records: OutgoingRecord<T>[]): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    const t = this.topic(topicName);
    await this.waitForRoom(topicName, t);
    const now = Date.now();
    const n = t.partitions.length;
    let rr = 0;
    const cache = t.partitionOf;
    for (const r of records) {
      let p: number;
      if (r.key === null) p = rr++ % n;
      else {
        let known = cache.get(r.key);
        if (known === undefined) {
          known = partitionFor(r.key, n);
          if (cache.size >= MAX_CACHED_KEYS) cache.clear();
          cache.set(r.key, known);
        }
        p = known;
      }
      const log = t.partitions[p]!;
      log.counts.push(countBefore(log, log.base + log.messages.length) + (r.count ?? 1));
      log.messages.push({
        topic: topicName,
        partition: p,
        offset: String(log.base + log.messages.length),
        key: r.key,
        value: r.value,
        timestamp: now,
      });
    }
    this.trim(t);
    this.events.emit(`data:${topicName}`);
  }

  private behind(t: Topic): number {
    let worst = 0;
    for (const committed of t.groups.values()) {
      t.partitions.forEach((log, p) => {
        const end = log.base + log.messages.length;
        worst = Math.max(worst, countBefore(log, end) - countBefore(log, committed[p] ?? 0));
      });
    }
    return worst;
  }

  private async waitForRoom(name: string, t: Topic): Promise<void> {
    const deadline = Date.now() + this.opts.publishTimeoutMs;
    while (t.groups.size > 0 && this.behind(t) >= this.opts.highWater && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) {
        // Nothing of this batch is in the log yet, so the sender can safely retry it whole.
        throw new BusUnavailableError(
          `in-process bus: ${name} is ${this.behind(t)} records behind its consumers; retry later`,
        );
      }
      await new Promise<void>((resolve) => {
        const onCommit = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.events.off(`commit:${name}`, onCommit);
          resolve();
        }, left);
        this.events.once(`commit:${name}`, onCommit);
      });
    }
  }

  /** Drops what every group has committed; without groups, keeps `retention` per partition. */
  private trim(t: Topic): void {
    t.partitions.forEach((log, p) => {
      let upTo: number;
      if (t.groups.size === 0) {
        upTo = log.base + log.messages.length - this.opts.retention;
      } else {
        upTo = Infinity;
        for (const committed of t.groups.values()) upTo = Math.min(upTo, committed[p] ?? 0);
      }
      const drop = upTo - log.base;
      // Splice in chunks: shifting one by one would be quadratic on a hot partition.
      if (drop > 1024 || (drop > 0 && drop === log.messages.length)) {
        log.countBase = log.counts[drop - 1]!;
        log.messages.splice(0, drop);
        log.counts.splice(0, drop);
        log.base += drop;
      }
    });
  }

  async subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription> {
    if (this.closed) throw new Error('bus is closed');
    const topics = options.topics.map((name) => {
      const t = this.topic(name);
      if (!t.groups.has(options.group)) {
        t.groups.set(
          options.group,
          t.partitions.map((log) =>
            options.fromBeginning === false ? log.base + log.messages.length : log.base,
          ),
        );
      }
      return { name, t };
    });
    const sub = new MemorySubscription(
      this,
      options as SubscribeOptions<unknown>,
      topics,
      this.events,
      this.opts,
    );
    this.subs.add(sub);
    sub.start();
    return {
      close: async () => {
        await sub.close();
        this.subs.delete(sub);
      },
    };
  }

  /** Called by a subscription after its handler resolved. */
  commit(name: string, t: Topic, group: string, partition: number, next: number): void {
    const committed = t.groups.get(group);
    if (committed) committed[partition] = next;
    this.trim(t);
    this.events.emit(`commit:${name}`);
  }

  async lag(group: string, topicName: string): Promise<PartitionLag[]> {
    const t = this.topics.get(topicName);
    if (!t) return [];
    const committed = t.groups.get(group);
    return t.partitions.map((log, partition) => ({
      topic: topicName,
      partition,
      lag: log.base + log.messages.length - (committed?.[partition] ?? log.base),
    }));
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subs].map((s) => s.close()));
    this.subs.clear();
    this.closed = true;
    for (const name of this.topics.keys()) this.events.emit(`commit:${name}`);
  }
}

class MemorySubscription {
  private stopping = false;
  /** Closing a lingering subscription: no lingering, one more pass, no redelivery. */
  private closing = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly bus: MemoryBus,
    private readonly options: SubscribeOptions<unknown>,
    private readonly topics: { name: string; t: Topic }[],
    private readonly events: EventEmitter,
    private readonly opts: MemoryBusOptions & { retryDelayMs: number; highWater: number },
  ) {}

  start(): void {
    const onData = () => this.wake?.();
    for (const { name } of this.topics) this.events.on(`data:${name}`, onData);
    this.loop = this.run().finally(() => {
      for (const { name } of this.topics) this.events.off(`data:${name}`, onData);
    });
  }

  private async run(): Promise<void> {
    const max = this.options.maxBatchMessages ?? 10_000;
    const linger = this.options.linger;
    // Publishers wait at highWater records behind: lingering for more would never end.
    const lingerRecords = linger
      ? Math.max(1, Math.min(linger.records, Math.floor(this.opts.highWater / 2)))
      : 0;
    while (!this.stopping) {
      let didWork = false;
      /** When the next lingering partition is due. */
      let due = Infinity;
      for (const { name, t } of this.topics) {
        const committed = t.groups.get(this.options.group)!;
        for (let p = 0; p < t.partitions.length && !this.stopping; p++) {
          const log = t.partitions[p]!;
          const from = committed[p]!;
          const end = log.base + log.messages.length;
          if (from >= end) continue;
          let stop = Math.min(end, from + max);
          if (linger) {
            const before = countBefore(log, from);
            const oldest = log.messages[from - log.base]!.timestamp;
            const young = Date.now() - oldest < linger.ms;
            if (!this.closing && countBefore(log, end) - before < lingerRecords && young) {
              due = Math.min(due, oldest + linger.ms);
              continue;
            }
            stop = recordsUpTo(log, from, stop, before + lingerRecords);
          }
          const messages = log.messages.slice(from - log.base, stop - log.base);
          const batch: BusBatch<unknown> = {
            topic: name,
            partition: p,
            messages,
            heartbeat: async () => {},
            isStale: () => this.stopping || this.closing,
          };
          try {
            await this.options.handler(batch);
            this.bus.commit(name, t, this.options.group, p, from + messages.length);
            didWork = true;
          } catch (err) {
            this.opts.onHandlerError?.(err, name, p);
            if (this.closing) return;
            // Redeliver the same batch after a pause: at-least-once.
            await this.sleep(this.opts.retryDelayMs);
          }
        }
      }
      // Closing: what the linger held back has been handed over (once; a failure ends it).
      if (this.closing && !didWork) return;
      if (!didWork && !this.stopping) {
        const wait = Math.max(1, Math.min(1000, due - Date.now()));
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, wait);
        });
        this.wake = undefined;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    // A lingering subscription hands over what it held back before it stops: records a
    // publisher saw accepted must not wait out a linger that will never end. Batches handed
    // over now are stale from the start (their handler does not wait, and retries nothing).
    if (this.options.linger) this.closing = true;
    else this.stopping = true;
    this.wake?.();
    await this.loop;
    this.stopping = true;
  }
}
