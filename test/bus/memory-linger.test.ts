import { describe, expect, it } from 'vitest';
import { createBus } from '../../core/bus/index.ts';
import { MemoryBus } from '../../core/bus/memory.ts';
import { configSchema } from '../../core/config/schema.ts';

describe('in-process bus linger', () => {
  it('hands a partition over once enough records wait, never more than that many', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1, highWater: 1000 });
    const batches: number[][] = [];
    const sub = await bus.subscribe<number>({
      group: 'bulk',
      topics: ['t'],
      // Long enough that only the record count can release the first batches.
      linger: { records: 7, ms: 60_000 },
      handler: async (batch) => {
        batches.push(batch.messages.map((m) => m.value));
      },
    });
    // Packs of 3 records: 6 records wait, fewer than 7, so nothing is delivered yet.
    await bus.publish('t', [
      { key: null, value: 0, count: 3 },
      { key: null, value: 1, count: 3 },
    ]);
    await new Promise((r) => setTimeout(r, 100));
    expect(batches).toEqual([]);
    // 12 records: delivered as whole messages of at most 7 records, and at least one message.
    await bus.publish('t', [
      { key: null, value: 2, count: 3 },
      { key: null, value: 3, count: 3 },
      { key: null, value: 4, count: 20 },
    ]);
    for (let i = 0; i < 100 && batches.flat().length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([[0, 1], [2, 3], [4]]);
    await sub.close();
    await bus.close();
  });

  it('hands over a partial batch once its oldest record is `ms` old', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1 });
    const delivered: { value: number; afterMs: number }[] = [];
    let published = 0;
    const sub = await bus.subscribe<number>({
      group: 'bulk',
      topics: ['t'],
      linger: { records: 1000, ms: 300 },
      handler: async (batch) => {
        for (const m of batch.messages) delivered.push({ value: m.value, afterMs: Date.now() - published });
      },
    });
    published = Date.now();
    await bus.publish('t', [
      { key: null, value: 1 },
      { key: null, value: 2 },
    ]);
    for (let i = 0; i < 200 && delivered.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(delivered.map((d) => d.value)).toEqual([1, 2]);
    // Not before the linger time (a lower bound: a slow machine only makes it later).
    expect(Math.min(...delivered.map((d) => d.afterMs))).toBeGreaterThanOrEqual(290);
    await sub.close();
    await bus.close();
  });

  it('hands over what it held back when closed, once, with the batch already stale', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1, retryDelayMs: 10 });
    const handled: number[] = [];
    let stale: boolean | undefined;
    const sub = await bus.subscribe<number>({
      group: 'bulk',
      topics: ['t'],
      linger: { records: 1000, ms: 60_000 },
      handler: async (batch) => {
        stale = batch.isStale();
        handled.push(...batch.messages.map((m) => m.value));
      },
    });
    await bus.publish(
      't',
      [1, 2, 3].map((value) => ({ key: null, value })),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(handled).toEqual([]);
    await sub.close();
    expect(handled).toEqual([1, 2, 3]);
    expect(stale).toBe(true);
    expect((await bus.lag('bulk', 't'))[0]!.lag).toBe(0);

    // A handler that fails while closing is not retried: close() still returns.
    let calls = 0;
    const failing = await bus.subscribe<number>({
      group: 'failing',
      topics: ['u'],
      linger: { records: 1000, ms: 60_000 },
      handler: async () => {
        calls++;
        throw new Error('ClickHouse is down');
      },
    });
    await bus.publish(
      'u',
      [1, 2, 3].map((value) => ({ key: null, value })),
    );
    await failing.close();
    expect(calls).toBe(1);
    expect((await bus.lag('failing', 'u'))[0]!.lag).toBe(3);
    await bus.close();
  });

  it('never lingers for more records than publishers may queue', async () => {
    // highWater 10: publishers wait at 10 records behind, so 5 records are a batch.
    const bus = new MemoryBus({ defaultPartitions: 1, highWater: 10, publishTimeoutMs: 5_000 });
    let handled = 0;
    const sub = await bus.subscribe<number>({
      group: 'bulk',
      topics: ['t'],
      linger: { records: 1_000_000, ms: 60_000 },
      handler: async (batch) => {
        handled += batch.messages.length;
      },
    });
    for (let i = 0; i < 30; i++) await bus.publish('t', [{ key: null, value: i }]);
    for (let i = 0; i < 100 && handled < 30; i++) await new Promise((r) => setTimeout(r, 20));
    expect(handled).toBe(30);
    await sub.close();
    await bus.close();
  });

  it('is sized by the runtime so a writer can linger for a whole batch of writer.maxRows', async () => {
    const maxRows = 300_000;
    const bus = createBus(configSchema.parse({ writer: { maxRows } }));
    const batches: number[] = [];
    const sub = await bus.subscribe<number>({
      group: 'writer',
      topics: ['t'],
      linger: { records: maxRows, ms: 60_000 },
      handler: async (batch) => {
        batches.push(batch.messages.length * 1000);
      },
    });
    // Packs of 1,000 records: with the default high water (200k) publishers would wait at 200k
    // behind and the linger be clamped to 100k records.
    for (let i = 0; i < maxRows / 1000; i++) await bus.publish('t', [{ key: null, value: i, count: 1000 }]);
    for (let i = 0; i < 100 && batches.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([maxRows]);
    await sub.close();
    await bus.close();
  });
});
