import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { BusUnavailableError } from '../../core/bus/types.ts';

describe('in-process bus backpressure', () => {
  it('makes publishers wait for a lagging group, then refuses the whole batch', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1, highWater: 10, publishTimeoutMs: 300 });
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    let handled = 0;
    const sub = await bus.subscribe<number>({
      group: 'slow',
      topics: ['t'],
      handler: async (batch) => {
        await blocked;
        handled += batch.messages.length;
      },
    });
    await bus.publish(
      't',
      Array.from({ length: 10 }, (_, i) => ({ key: null, value: i })),
    );
    const refused = bus.publish('t', [{ key: null, value: 99 }]);
    await expect(refused).rejects.toBeInstanceOf(BusUnavailableError);
    expect((await bus.lag('slow', 't'))[0]!.lag).toBe(10);

    // Once the consumer catches up, publishing works again and nothing refused was kept.
    release();
    await bus.publish('t', [{ key: null, value: 100 }]);
    for (let i = 0; i < 100 && (await bus.lag('slow', 't'))[0]!.lag > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    await sub.close();
    await bus.close();
    expect(handled).toBe(11);
  });

  it('counts a packed message as the records it carries', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1, highWater: 1000, publishTimeoutMs: 300 });
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const sub = await bus.subscribe<unknown>({
      group: 'slow',
      topics: ['t'],
      handler: () => blocked,
    });
    // Two messages, but 1,000 records: the group is at the high-water mark.
    await bus.publish('t', [
      { key: null, value: 'pack of 600', count: 600 },
      { key: null, value: 'pack of 400', count: 400 },
    ]);
    await expect(bus.publish('t', [{ key: null, value: 'one more' }])).rejects.toThrow(/1000 records behind/);
    release();
    await sub.close();
    await bus.close();
  });

  it('keeps counting right after committed messages are trimmed', async () => {
    const bus = new MemoryBus({ defaultPartitions: 1, highWater: 5000, publishTimeoutMs: 300 });
    let hold = false;
    let release!: () => void;
    let blocked = Promise.resolve();
    let handled = 0;
    const sub = await bus.subscribe<unknown>({
      group: 'g',
      topics: ['t'],
      handler: async (batch) => {
        if (hold) await blocked;
        handled += batch.messages.length;
      },
    });
    // 3,000 single records, handled and trimmed (trimming goes in chunks over 1,024).
    await bus.publish(
      't',
      Array.from({ length: 3000 }, (_, i) => ({ key: null, value: i })),
    );
    for (let i = 0; i < 100 && handled < 3000; i++) await new Promise((r) => setTimeout(r, 20));
    expect(handled).toBe(3000);
    hold = true;
    blocked = new Promise<void>((r) => (release = r));
    await bus.publish('t', [{ key: null, value: 'pack', count: 4999 }]);
    await bus.publish('t', [{ key: null, value: 'one' }]);
    await expect(bus.publish('t', [{ key: null, value: 'past the mark' }])).rejects.toThrow(
      /5000 records behind/,
    );
    release();
    await sub.close();
    await bus.close();
  });
});
