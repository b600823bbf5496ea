import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { KafkaBus } from '../../core/bus/kafka.ts';
import { electLeader, leaderGroup, type Leadership } from '../../core/bus/leader.ts';
import { MemoryBus } from '../../core/bus/memory.ts';
import { uid, waitFor } from './conformance.ts';

const brokers = inject('kafkaBrokers').split(',');
const quiet = pino({ level: process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent' });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  cleanups.length = 0;
});

/** One replica: its own bus (its own Kafka connections), an elector and the changes it saw. */
async function replica(name: string) {
  const bus = new KafkaBus({ brokers, retryDelayMs: 200, logger: quiet });
  cleanups.push(() => bus.close());
  const leadership = await electLeader({ name, bus, log: quiet });
  cleanups.push(() => leadership.close());
  const changes: boolean[] = [];
  leadership.onChange((l) => void changes.push(l));
  return { leadership, changes };
}

async function stableGroup(name: string, members: number): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await waitFor(async () => {
      const { groups } = await admin.describeGroups([leaderGroup(name)]);
      return groups[0]?.state === 'Stable' && groups[0].members.length === members;
    }, `election group ${name} stable with ${members} members`);
  } finally {
    await admin.disconnect();
  }
}

const leaders = (rs: { leadership: Leadership }[]) => rs.filter((r) => r.leadership.isLeader()).length;

describe('electLeader', () => {
  it('leads alone on the in-process bus', async () => {
    const bus = new MemoryBus();
    const l = await electLeader({ name: uid('mem'), bus, log: quiet });
    const seen: boolean[] = [];
    l.onChange((x) => void seen.push(x));
    expect(l.isLeader()).toBe(true);
    await l.close();
    expect(seen).toEqual([true, false]);
    await bus.close();
  });

  it('elects exactly one of two replicas; a new replica does not move it; closing the leader hands over', async () => {
    const name = uid('election');
    const a = await replica(name);
    const b = await replica(name);
    await stableGroup(name, 2);
    await waitFor(() => leaders([a, b]) === 1, 'one leader');
    const [leader, standby] = a.leadership.isLeader() ? [a, b] : [b, a];
    expect(standby.changes).toEqual([]);

    // A third replica joins: the group rebalances, but the sticky assignor keeps the leader.
    const c = await replica(name);
    await stableGroup(name, 3);
    expect(leader.leadership.isLeader()).toBe(true);
    expect(leader.changes).toEqual([true]);
    expect(leaders([a, b, c])).toBe(1);

    // The leader steps down and leaves: one of the others takes over.
    await leader.leadership.close();
    expect(leader.changes).toEqual([true, false]);
    await waitFor(() => leaders([standby, c]) === 1, 'a new leader');
    await stableGroup(name, 2);
    expect(leaders([a, b, c])).toBe(1);
    const next = standby.leadership.isLeader() ? standby : c;
    expect(next.changes).toEqual([true]);
  }, 120_000);
});
