import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createBus, topicSpecs } from '../../core/bus/index.ts';
import {
  KafkaBus,
  encodeValue,
  javaCompatiblePartitioner,
  type KafkaBusOptions,
} from '../../core/bus/kafka.ts';
import { MemoryBus } from '../../core/bus/memory.ts';
import { partitionFor } from '../../core/bus/partitioner.ts';
import { configSchema } from '../../core/config/schema.ts';
import { freePort, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { busConformance, sleep, totalLag, uid, waitFor } from './conformance.ts';

const brokers = inject('kafkaBrokers').split(',');
// Quiet by default (the failure tests log errors on purpose); OPSIGHT_TEST_LOG_LEVEL=debug shows all.
const quiet = pino({ level: process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent' });

const kafkaBus = (options: Partial<KafkaBusOptions> = {}) =>
  new KafkaBus({ brokers, retryDelayMs: 200, logger: quiet, ...options });

busConformance('kafka', () => kafkaBus());
busConformance('kafka, records packed', () => kafkaBus({ pack: () => true }), { packed: true });

/** A logger that keeps its lines, to assert on what an operator would read. */
function capture() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, warns: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

describe('KafkaBus', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it("partitions keys exactly like kafkajs's default (Java murmur2) partitioner", () => {
    // kafkajs's DefaultPartitioner is its port of Java's; ours and core/bus/partitioner.ts must agree.
    const partitioner = Partitioners.DefaultPartitioner();
    const ours = javaCompatiblePartitioner();
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'service.name=checkout', 'héllo wörld ✓', '日本語のキー'];
    for (let i = 0; i < 3000; i++) keys.push(`series-${i}-${(i * 2654435761) % 1000003}`);
    for (const partitions of [1, 3, 6, 7, 64]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (const key of keys) {
        const message = { key, value: null };
        const expected = partitionFor(key, partitions);
        const what = `key ${JSON.stringify(key)} with ${partitions} partitions`;
        expect(partitioner({ topic: 't', partitionMetadata, message }), what).toBe(expected);
        expect(ours({ topic: 't', partitionMetadata, message }), what).toBe(expected);
        const asBuffer = { key: Buffer.from(key), value: null };
        expect(ours({ topic: 't', partitionMetadata, message: asBuffer }), what).toBe(expected);
      }
    }
  });

  it('puts a key on the same partition number as the in-process bus', async () => {
    const kafka = kafkaBus();
    const memory = new MemoryBus();
    cleanup.push(
      () => kafka.close(),
      () => memory.close(),
    );
    const topic = uid('t-same-partition');
    await Promise.all([kafka, memory].map((b) => b.ensureTopics([{ name: topic, partitions: 6 }])));
    const keys = Array.from({ length: 60 }, (_, i) => `checkout-${i}`);
    const seen = new Map<string, Map<string, number>>([
      ['kafka', new Map()],
      ['memory', new Map()],
    ]);
    for (const b of [kafka, memory]) {
      await b.publish(
        topic,
        keys.map((key) => ({ key, value: key })),
      );
      const sub = await b.subscribe<string>({
        group: uid('g'),
        topics: [topic],
        handler: async (batch) => {
          for (const m of batch.messages) seen.get(b.kind)!.set(m.value, m.partition);
        },
      });
      cleanup.push(() => sub.close());
    }
    await waitFor(() => seen.get('kafka')!.size === 60 && seen.get('memory')!.size === 60, 'both buses');
    for (const key of keys) expect(seen.get('kafka')!.get(key)).toBe(seen.get('memory')!.get(key));
  });

  it('carries NaN and ±Infinity through the broker, which JSON alone would turn into null', async () => {
    const kafka = kafkaBus();
    cleanup.push(() => kafka.close());
    const topic = uid('t-nonfinite');
    await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
    const sent = { value: NaN, bounds: [0.5, Infinity], low: -Infinity, missing: null, label: 'NaN', t: 5n };
    await kafka.publish(topic, [{ key: 'k', value: sent }]);
    const got: unknown[] = [];
    const sub = await kafka.subscribe({
      group: uid('g'),
      topics: [topic],
      handler: async (batch) => {
        got.push(...batch.messages.map((m) => m.value));
      },
    });
    cleanup.push(() => sub.close());
    await waitFor(() => got.length === 1, 'the record');
    expect(got[0]).toEqual({
      value: NaN,
      bounds: [0.5, Infinity],
      low: -Infinity,
      missing: null,
      label: 'NaN',
      t: '5',
    });
  });

  it('lingers as asked: the broker holds a fetch for linger.bytes or linger.ms, so small publishes arrive together', async () => {
    const kafka = kafkaBus();
    cleanup.push(() => kafka.close());
    const topic = uid('t-linger');
    await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
    /** Handler calls of a subscriber while five records are published 200 ms apart. */
    const deliveries = async (linger?: { records: number; ms: number; bytes: number }) => {
      const calls: number[] = [];
      const sub = await kafka.subscribe({
        group: uid('g'),
        topics: [topic],
        fromBeginning: false,
        linger,
        handler: async (batch) => void calls.push(batch.messages.length),
      });
      cleanup.push(() => sub.close());
      await sleep(500); // past the group join's first (empty) fetch
      for (let i = 0; i < 5; i++) {
        await kafka.publish(topic, [{ key: 'k', value: { i } }]);
        await sleep(200);
      }
      await waitFor(() => calls.reduce((a, b) => a + b, 0) === 5, 'five records');
      await sub.close();
      return calls.length;
    };
    // Without a linger each record is fetched as it comes; with one, far fewer bytes than asked
    // arrive within the wait, and they are handed over once it ends.
    expect(await deliveries()).toBeGreaterThanOrEqual(3);
    expect(await deliveries({ records: 1_000_000, ms: 3000, bytes: 1024 * 1024 })).toBeLessThanOrEqual(2);
  });

  it('packs the records of one publish per partition and hands them over one by one, keys and order kept', async () => {
    const kafka = kafkaBus({ pack: () => true });
    cleanup.push(() => kafka.close());
    const topic = uid('t-pack');
    await kafka.ensureTopics([{ name: topic, partitions: 3 }]);
    // 50 keys and some without one; values big enough for several packs per partition, one of
    // them a NaN that needs the replacer, one null.
    const sent = Array.from({ length: 3000 }, (_, i) => ({
      key: i % 61 === 0 ? null : `key-${i % 50}`,
      value: i === 7 ? null : { i, pad: 'x'.repeat(400), v: i === 9 ? NaN : i },
    }));
    await kafka.publish(topic, sent);
    const got: { partition: number; offset: string; key: string | null; value: unknown }[] = [];
    const calls: string[][] = [];
    const sub = await kafka.subscribe({
      group: uid('g'),
      topics: [topic],
      maxBatchMessages: 100,
      handler: async (batch) => {
        calls.push(batch.messages.map((m) => m.offset));
        got.push(...batch.messages);
      },
    });
    cleanup.push(() => sub.close());
    await waitFor(() => got.length === sent.length, 'every record');
    const byKey = new Map<string | null, number[]>();
    for (const m of got) {
      const v = m.value as { i: number; v: number } | null;
      const i = v === null ? 7 : v.i;
      expect(m.key).toBe(sent[i]!.key);
      if (m.key !== null) expect(m.partition).toBe(partitionFor(m.key, 3));
      if (i === 9) expect(v!.v).toBeNaN();
      byKey.set(m.key, [...(byKey.get(m.key) ?? []), i]);
    }
    expect(got.filter((m) => m.value === null)).toHaveLength(1);
    for (const [key, order] of byKey)
      expect(order, `order of ${key}`).toEqual([...order].sort((a, b) => a - b));
    // Packed: a few Kafka messages, each holding many records.
    expect(new Set(got.map((m) => `${m.partition}:${m.offset}`)).size).toBeLessThan(30);
    // maxBatchMessages counts records; a pack bigger than it comes whole, alone.
    for (const offsets of calls) expect(offsets.length <= 100 || new Set(offsets).size === 1).toBe(true);
    expect(calls.some((offsets) => offsets.length > 100)).toBe(true);
    expect(await totalLag(kafka, 'nobody', topic)).toBeLessThan(30);
  });

  it('skips a pack that does not decode, logging where it is, and goes on with the messages after it', async () => {
    const { log, lines } = capture();
    const kafka = kafkaBus({ pack: () => true, logger: log });
    cleanup.push(() => kafka.close());
    const topic = uid('t-badpack');
    await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
    // Written by another producer: a pack whose count and keys disagree with its lines.
    const raw = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer();
    await raw.connect();
    cleanup.push(() => raw.disconnect());
    await kafka.publish(topic, [
      { key: 'a', value: { i: 0 } },
      { key: 'b', value: { i: 1 } },
    ]);
    await raw.send({
      topic,
      messages: [
        {
          key: 'x',
          value: '{"i":90}\n{"i":91}',
          headers: { 'opsight-pack': '3', 'opsight-keys': '["x","y","z"]' },
        },
        { key: 'x', value: '{"i":92}\n{"i":', headers: { 'opsight-pack': '2', 'opsight-keys': '["x","y"]' } },
      ],
    });
    await kafka.publish(topic, [
      { key: 'c', value: { i: 2 } },
      { key: 'd', value: { i: 3 } },
    ]);
    const got: number[] = [];
    const sub = await kafka.subscribe<{ i: number }>({
      group: uid('g'),
      topics: [topic],
      handler: async (batch) => void got.push(...batch.messages.map((m) => m.value.i)),
    });
    cleanup.push(() => sub.close());
    await waitFor(() => got.length === 4, 'the four good records');
    // Nothing of a broken pack is handed over, not even its lines that parse.
    expect(got).toEqual([0, 1, 2, 3]);
    const errors = lines.filter((l) => l.level === 50).map((l) => l.msg);
    expect(errors).toEqual([
      `skipping a pack that does not decode at ${topic}[0] offset 1`,
      `skipping a pack that does not decode at ${topic}[0] offset 2`,
    ]);
  });

  it('keeps one message a record on topics it does not pack (alerts and incidents, which other tools read)', async () => {
    const kafka = kafkaBus();
    cleanup.push(() => kafka.close());
    const topic = uid('t-plain');
    await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
    await kafka.publish(
      topic,
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 3}`, value: { i } })),
    );
    expect(await totalLag(kafka, 'nobody', topic)).toBe(20);
  });

  it('serialises bigint values as decimal strings', async () => {
    expect(encodeValue({ t: 1_700_000_000_123_456_789n, n: 1 })!.toString()).toBe(
      '{"t":"1700000000123456789","n":1}',
    );
    expect(encodeValue(undefined)).toBeNull();
    expect(() => encodeValue({ f: () => 1, self: undefined })).not.toThrow();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => encodeValue(circular)).toThrow(/circular/i);
  });

  it('createBus picks Kafka when brokers are configured and topicSpecs lists every topic', async () => {
    const withKafka = configSchema.parse({ kafka: { brokers, partitions: 3 } });
    const bus = createBus(withKafka);
    cleanup.push(() => bus.close());
    expect(bus.kind).toBe('kafka');
    expect(await bus.ping()).toBe(true);
    const specs = topicSpecs(withKafka);
    expect(specs.map((s) => s.name).sort()).toEqual(
      [
        'opsight.alerts',
        'opsight.billing',
        'opsight.incidents',
        'opsight.logs',
        'opsight.metrics',
        'opsight.traces',
      ].sort(),
    );
    for (const s of specs) expect(s).toMatchObject({ partitions: 3, replicationFactor: 1 });
    const memoryConfig = configSchema.parse({ kafka: { partitions: 3 } });
    const memory = createBus(memoryConfig);
    cleanup.push(() => memory.close());
    expect(memory.kind).toBe('memory');
    // One process: one partition per in-process topic, whatever kafka.partitions says.
    for (const s of topicSpecs(memoryConfig)) expect(s.partitions).toBe(1);
    await memory.ensureTopics(topicSpecs(memoryConfig));
    expect(memory.partitionCount?.('opsight.metrics')).toBe(1);
  });

  it('leaves an existing topic as it is and warns when its partition count differs', async () => {
    const { log, warns } = capture();
    const bus = kafkaBus({ logger: log });
    cleanup.push(() => bus.close());
    const topic = uid('t-existing');
    expect(bus.partitionCount(topic)).toBeUndefined();
    await bus.ensureTopics([{ name: topic, partitions: 2 }]);
    await bus.ensureTopics([{ name: topic, partitions: 2 }]);
    expect(warns()).toEqual([]);
    await bus.ensureTopics([{ name: topic, partitions: 5 }]);
    expect(warns().join('\n')).toMatch(/has 2 partitions, configured 5/);
    // The real count, for sources that pack records per partition.
    expect(bus.partitionCount(topic)).toBe(2);
    expect(await bus.lag(uid('g'), topic)).toHaveLength(2);
  });

  it('waits for a broker that is down at start, logging each retry, then works', async () => {
    const port = await freePort();
    const late: { broker?: KafkaBroker } = {};
    cleanup.push(async () => late.broker?.stop());
    const { log, warns } = capture();
    const bus = new KafkaBus({ brokers: [`127.0.0.1:${port}`], retryDelayMs: 200, logger: log });
    cleanup.push(() => bus.close());
    const topic = uid('t-late');
    const ready = bus.ensureTopics([{ name: topic, partitions: 2 }]);
    expect(await bus.ping()).toBe(false);
    await waitFor(() => warns().length >= 2, 'two retry warnings');
    late.broker = await startKafka({ port });
    await ready;
    const retries = warns().filter((w) => w.includes('unreachable'));
    expect(retries[0]).toMatch(
      new RegExp(`^Kafka 127\\.0\\.0\\.1:${port} unreachable, retrying in [\\d.]+s: .*ECONNREFUSED`),
    );
    // Our own retry reports the outage; kafkajs's per-attempt connection errors stay at debug.
    expect(warns().every((w) => w.includes('unreachable'))).toBe(true);
    expect(await bus.ping()).toBe(true);

    await bus.publish(topic, [{ key: 'k', value: { ok: true } }]);
    const got: unknown[] = [];
    const sub = await bus.subscribe({
      group: uid('g'),
      topics: [topic],
      handler: async (batch) => void got.push(...batch.messages.map((m) => m.value)),
    });
    cleanup.push(() => sub.close());
    await waitFor(() => got.length === 1, 'the message through the late broker');
    expect(got).toEqual([{ ok: true }]);
  });

  it('gives up with a clear error after connectTimeoutMs', async () => {
    const port = await freePort();
    const bus = new KafkaBus({ brokers: [`127.0.0.1:${port}`], connectTimeoutMs: 1500, logger: quiet });
    cleanup.push(() => bus.close());
    await expect(bus.ensureTopics([{ name: 'x', partitions: 1 }])).rejects.toThrow(
      new RegExp(
        `Kafka 127\\.0\\.0\\.1:${port} unreachable for \\d+ s \\(kafka\\.connectTimeoutMs = 1500\\)`,
      ),
    );
  });

  it('survives a broker restart: consumers resume, nothing is lost', async () => {
    // Our own directory, so that the broker can be killed and started again on it.
    const dir = mkdtempSync(join(tmpdir(), 'opsight-kafka-restart-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    let broker = await startKafka({ dir });
    cleanup.push(() => broker.stop());
    const bus = new KafkaBus({ brokers: broker.brokers, retryDelayMs: 200, logger: quiet });
    cleanup.push(() => bus.close());
    const topic = uid('t-restart');
    const group = uid('g');
    await bus.ensureTopics([{ name: topic, partitions: 2 }]);
    const got = new Set<number>();
    const sub = await bus.subscribe<{ i: number }>({
      group,
      topics: [topic],
      handler: async (batch) => {
        for (const m of batch.messages) got.add(m.value.i);
      },
    });
    cleanup.push(() => sub.close());
    await bus.publish(
      topic,
      Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 10}`, value: { i } })),
    );
    await waitFor(() => got.size === 100, 'the first 100');

    await broker.kill();
    broker = await startKafka({ dir, port: broker.port });
    // The producer may need a retry or two while metadata settles.
    await waitFor(
      async () =>
        bus
          .publish(
            topic,
            Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 10}`, value: { i: 100 + i } })),
          )
          .then(() => true)
          .catch(() => false),
      'a publish to the restarted broker',
    );
    await waitFor(() => got.size >= 200, 'all 200 after the restart', 120_000);
    expect(got.size).toBe(200);
    await waitFor(async () => (await totalLag(bus, group, topic)) === 0, 'lag 0');
  });

  it('keeps a handler that outlasts the session timeout in its group (background heartbeats)', async () => {
    // 6 s is the broker's minimum session timeout; the handler takes longer and never heartbeats.
    const bus = kafkaBus({ sessionTimeoutMs: 6000 });
    cleanup.push(() => bus.close());
    const topic = uid('t-slow');
    const group = uid('g');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    await bus.publish(
      topic,
      Array.from({ length: 5 }, (_, i) => ({ key: null, value: { i } })),
    );
    const calls: string[][] = [];
    const sub = await bus.subscribe<{ i: number }>({
      group,
      topics: [topic],
      handler: async (batch) => {
        calls.push(batch.messages.map((m) => m.offset));
        if (calls.length === 1) await sleep(9000);
      },
    });
    cleanup.push(() => sub.close());
    await waitFor(async () => (await totalLag(bus, group, topic)) === 0, 'the slow batch to be committed');
    // Evicted from the group, the commit would have failed and the batch come back.
    expect(calls).toEqual([['0', '1', '2', '3', '4']]);
  });

  it('produces and consumes 100k messages exactly once, in order per partition', async () => {
    const bus = kafkaBus();
    cleanup.push(() => bus.close());
    const topic = uid('t-100k');
    const partitions = 6;
    await bus.ensureTopics([{ name: topic, partitions }]);
    const total = 100_000;
    const keys = 1000;
    const lastSeqOfKey = new Int32Array(keys).fill(-1);
    const seen = new Uint8Array(total);
    const lastOffset = new Map<number, bigint>();
    let received = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    const sub = await bus.subscribe<{ k: number; s: number }>({
      group: uid('g'),
      topics: [topic],
      handler: async (batch) => {
        for (const m of batch.messages) {
          const { k, s } = m.value;
          if (seen[s]) duplicates++;
          seen[s] = 1;
          if (s <= lastSeqOfKey[k]!) outOfOrder++;
          lastSeqOfKey[k] = s;
          const off = BigInt(m.offset);
          if (off <= (lastOffset.get(m.partition) ?? -1n)) outOfOrder++;
          lastOffset.set(m.partition, off);
          if (m.partition !== partitionFor(`key-${k}`, partitions)) outOfOrder++;
          received++;
        }
      },
    });
    cleanup.push(() => sub.close());
    const chunk = 10_000;
    for (let from = 0; from < total; from += chunk) {
      await bus.publish(
        topic,
        Array.from({ length: chunk }, (_, j) => {
          const s = from + j;
          return { key: `key-${s % keys}`, value: { k: s % keys, s } };
        }),
      );
    }
    await waitFor(() => received >= total, `${total} messages`, 180_000);
    await sleep(500); // anything extra (a duplicate) would show up here
    expect({ received, duplicates, outOfOrder }).toEqual({ received: total, duplicates: 0, outOfOrder: 0 });
    expect(seen.every((x) => x === 1)).toBe(true);
  });
});
