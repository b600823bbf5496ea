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
});
