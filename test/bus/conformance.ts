import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { partitionFor } from '../../core/bus/partitioner.ts';
import type { Bus, BusBatch, BusMessage, Subscription } from '../../core/bus/types.ts';

/**
 * The contract every bus implementation keeps (core/bus/types.ts), run against the in-process
 * bus and a real Kafka broker alike. Topic and group names are unique per test so that tests
 * sharing one broker never see each other's data.
 */

export const uid = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `cond` holds; the timeout only guards against hanging, it asserts no speed. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Values as a consumer of either bus sees them: bigints become decimal strings on Kafka. */
const normalize = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));

export async function totalLag(bus: Bus, group: string, topic: string): Promise<number> {
  return (await bus.lag(group, topic)).reduce((sum, p) => sum + p.lag, 0);
}

interface Seq {
  key: string;
  seq: number;
}

/**
 * `packed`: the bus packs the records of one publish per partition into one message (Kafka's
 * ingest topics), so records share offsets and lag counts messages, one per partition here.
 */
export function busConformance(
  name: string,
  makeBus: () => Bus | Promise<Bus>,
  { packed = false }: { packed?: boolean } = {},
): void {
  describe(`bus conformance: ${name}`, () => {
    const open: { close(): Promise<void> }[] = [];
    const bus = async (): Promise<Bus> => {
      const b = await makeBus();
      open.push(b);
      return b;
    };
    const track = (s: Subscription): Subscription => {
      open.unshift(s); // subscriptions close before their bus
      return s;
    };
    afterEach(async () => {
      for (const o of open.splice(0)) await o.close();
    });

    it('delivers published records with their key, offset and value', async () => {
      const b = await bus();
      const topic = uid('t-roundtrip');
      await b.ensureTopics([{ name: topic, partitions: 3 }]);
      const sent = Array.from({ length: 50 }, (_, i) => ({
        key: `svc-${i % 7}`,
        value: {
          i,
          name: 'http_requests_total',
          attributes: { method: i % 2 ? 'GET' : 'POST', 'service.name': `svc-${i % 7}` },
          timeUnixNano: 1_700_000_000_000_000_000n + BigInt(i),
          value: i / 3,
          tags: ['a', 'b'],
        },
      }));
      await b.publish(topic, sent.slice(0, 20));
      await b.publish(topic, sent.slice(20));
      await b.publish(topic, []);
      const got: BusMessage<{ i: number }>[] = [];
      track(
        await b.subscribe<{ i: number }>({
          group: uid('g'),
          topics: [topic],
          handler: async (batch) => {
            expect(batch.topic).toBe(topic);
            for (const m of batch.messages) expect(m.partition).toBe(batch.partition);
            got.push(...batch.messages);
          },
        }),
      );
      await waitFor(() => got.length >= 50, '50 messages');
      expect(got).toHaveLength(50);
      got.sort((a, b) => a.value.i - b.value.i);
      got.forEach((m, i) => {
        expect(m.topic).toBe(topic);
        expect(m.key).toBe(sent[i]!.key);
        expect(normalize(m.value)).toEqual(normalize(sent[i]!.value));
        expect(m.offset).toMatch(/^\d+$/);
        expect(typeof m.timestamp).toBe('number');
        expect(Math.abs(m.timestamp - Date.now())).toBeLessThan(10 * 60_000);
      });
    });

    it('puts one key on one partition (Kafka murmur2) and keeps per-key order', async () => {
      const b = await bus();
      const topic = uid('t-keys');
      const partitions = 4;
      await b.ensureTopics([{ name: topic, partitions }]);
      const keys = Array.from({ length: 20 }, (_, k) => `host-${k}.example|cpu_${k}`);
      for (let round = 0; round < 5; round++) {
        const records = [];
        for (let s = 0; s < 5; s++)
          for (const key of keys) records.push({ key, value: { key, seq: round * 5 + s } });
        await b.publish<Seq>(topic, records);
      }
      const byKey = new Map<string, { partition: number; seq: number; offset: bigint }[]>();
      let n = 0;
      track(
        await b.subscribe<Seq>({
          group: uid('g'),
          topics: [topic],
          maxBatchMessages: 7, // many small batches: order must hold across them
          handler: async (batch) => {
            for (const m of batch.messages) {
              const list = byKey.get(m.value.key) ?? [];
              list.push({ partition: m.partition, seq: m.value.seq, offset: BigInt(m.offset) });
              byKey.set(m.value.key, list);
              expect(m.key).toBe(m.value.key);
            }
            n += batch.messages.length;
          },
        }),
      );
      await waitFor(() => n >= keys.length * 25, 'all keyed messages');
      expect(n).toBe(keys.length * 25);
      const used = new Set<number>();
      for (const key of keys) {
        const list = byKey.get(key)!;
        expect(list.map((x) => x.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i));
        for (const x of list) expect(x.partition).toBe(partitionFor(key, partitions));
        for (let i = 1; i < list.length; i++) {
          if (packed) expect(list[i]!.offset >= list[i - 1]!.offset).toBe(true);
          else expect(list[i]!.offset > list[i - 1]!.offset).toBe(true);
        }
        used.add(list[0]!.partition);
      }
      expect(used.size).toBeGreaterThan(1);
    });

    it('redelivers a batch whose handler throws and commits nothing before success', async () => {
      const b = await bus();
      const topic = uid('t-retry');
      const group = uid('g');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.publish(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: { i } })),
      );
      const attempts: string[][] = [];
      const lagDuringAttempts: number[] = [];
      const handled: number[] = [];
      track(
        await b.subscribe<{ i: number }>({
          group,
          topics: [topic],
          handler: async (batch) => {
            attempts.push(batch.messages.map((m) => m.offset));
            lagDuringAttempts.push(await totalLag(b, group, topic));
            if (attempts.length <= 2) throw new Error(`simulated failure ${attempts.length}`);
            handled.push(...batch.messages.map((m) => m.value.i));
          },
        }),
      );
      await waitFor(() => handled.length >= 10, 'the batch to succeed on the third attempt');
      await waitFor(async () => (await totalLag(b, group, topic)) === 0, 'the commit after success');
      expect(attempts.length).toBeGreaterThanOrEqual(3);
      // The failed batch comes back from its first offset, each time.
      expect(attempts[0]![0]).toBe('0');
      expect(attempts[1]![0]).toBe('0');
      expect(attempts[2]![0]).toBe('0');
      // Nothing was committed while the handler was failing, nor before it resolved.
      const published = packed ? 1 : 10;
      expect(lagDuringAttempts.slice(0, 3)).toEqual([published, published, published]);
      expect(handled).toEqual(Array.from({ length: 10 }, (_, i) => i));
    });

    it('resumes a group from its committed offset after close(): no loss, no redelivery', async () => {
      const b = await bus();
      const topic = uid('t-resume');
      const group = uid('g');
      await b.ensureTopics([{ name: topic, partitions: 2 }]);
      await b.publish(
        topic,
        Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: { i } })),
      );
      const first: number[] = [];
      const sub1 = await b.subscribe<{ i: number }>({
        group,
        topics: [topic],
        handler: async (batch) => {
          first.push(...batch.messages.map((m) => m.value.i));
        },
      });
      await waitFor(() => first.length >= 30, 'the first 30 messages');
      await sub1.close();
      expect(await totalLag(b, group, topic)).toBe(0);

      await b.publish(
        topic,
        Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: { i: 100 + i } })),
      );
      const second: number[] = [];
      track(
        await b.subscribe<{ i: number }>({
          group,
          topics: [topic],
          handler: async (batch) => {
            second.push(...batch.messages.map((m) => m.value.i));
          },
        }),
      );
      // Per partition, a redelivered old message would arrive before the new ones.
      await waitFor(() => second.filter((i) => i >= 100).length >= 20, 'the 20 new messages');
      expect([...first].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect([...second].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
      await waitFor(async () => (await totalLag(b, group, topic)) === 0, 'lag 0');
    });

    it('close() waits for the batch in flight and commits it', async () => {
      const b = await bus();
      const topic = uid('t-drain');
      const group = uid('g');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.publish(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ key: null, value: { i } })),
      );
      let started!: () => void;
      const inFlight = new Promise<void>((r) => (started = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const handled: number[] = [];
      let staleWhileClosing = false;
      const sub = await b.subscribe<{ i: number }>({
        group,
        topics: [topic],
        handler: async (batch: BusBatch<{ i: number }>) => {
          started();
          await gate;
          staleWhileClosing = batch.isStale();
          handled.push(...batch.messages.map((m) => m.value.i));
        },
      });
      await inFlight;
      let closed = false;
      const closing = sub.close().then(() => (closed = true));
      await sleep(300);
      expect(closed).toBe(false); // still waiting for the handler
      release();
      await closing;
      expect(handled.length).toBeGreaterThan(0);
      expect(staleWhileClosing).toBe(true);
      // Exactly what was handled is committed.
      expect(await totalLag(b, group, topic)).toBe(10 - handled.length);

      const rest: number[] = [];
      track(
        await b.subscribe<{ i: number }>({
          group,
          topics: [topic],
          handler: async (batch) => {
            rest.push(...batch.messages.map((m) => m.value.i));
          },
        }),
      );
      await waitFor(async () => (await totalLag(b, group, topic)) === 0, 'the rest to be consumed');
      expect([...handled, ...rest]).toEqual(Array.from({ length: 10 }, (_, i) => i));
    });

    it('lag() counts published, uncommitted messages per partition', async () => {
      const b = await bus();
      const topic = uid('t-lag');
      const group = uid('g');
      const partitions = 3;
      await b.ensureTopics([{ name: topic, partitions }]);
      expect(await b.lag(uid('g'), uid('t-missing'))).toEqual([]);
      const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
      await b.publish(
        topic,
        keys.map((key) => ({ key, value: { key } })),
      );
      const lag = await b.lag(group, topic);
      expect(lag.map((l) => l.partition)).toEqual([0, 1, 2]);
      for (const l of lag) {
        expect(l.topic).toBe(topic);
        const records = keys.filter((k) => partitionFor(k, partitions) === l.partition).length;
        expect(l.lag).toBe(packed ? Math.min(records, 1) : records);
      }
      let n = 0;
      track(
        await b.subscribe({
          group,
          topics: [topic],
          handler: async (batch) => {
            n += batch.messages.length;
          },
        }),
      );
      await waitFor(async () => (await totalLag(b, group, topic)) === 0, 'lag 0 after consuming');
      expect(n).toBe(30);
      expect(await b.ping()).toBe(true);
    });
  });
}
