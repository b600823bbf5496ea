import { AssignerProtocol, type Consumer, type GroupMember, type PartitionAssigner } from 'kafkajs';
import { logger as rootLogger, type Logger } from '../log.ts';
import { KafkaBus } from './kafka.ts';
import type { Bus } from './types.ts';

/**
 * Leader election among the replicas of a role, with Kafka's own group membership and nothing
 * else: every replica's consumer joins the group `opsight-leader-<name>` on the one-partition
 * topic `opsight.leader.<name>`, and the member the group assigns partition 0 is the leader.
 * A leader that stops leaves the group at once; one that crashes is dropped after the session
 * timeout (10 s), and the group hands the partition to a standby. The assignor is sticky (the
 * member that holds leadership says so in its subscription metadata), so a standby joining or
 * restarting does not move leadership. With the in-process bus there is one process: it leads.
 *
 * Limit: a leader cut off from Kafka for longer than the session timeout learns it lost the
 * group only when Kafka answers again, so for that long two processes may both act as leader.
 */

export interface Leadership {
  isLeader(): boolean;
  /**
   * Called on every change, one call at a time in order (a step-down waits for the step-up
   * before it); called at once with true if this process already leads.
   */
  onChange(fn: (leader: boolean) => void | Promise<void>): void;
  /** Steps down (listeners run with false and are awaited), then leaves the group. */
  close(): Promise<void>;
}

export interface ElectOptions {
  /** Election name, e.g. the role: `detect`, `correlate`. */
  name: string;
  bus: Bus;
  /** For the election topic; default the broker's default.replication.factor. */
  replicationFactor?: number;
  log?: Logger;
  /** How long electLeader waits for the first group join before returning (default 30 s). */
  joinTimeoutMs?: number;
}

export const leaderTopic = (name: string): string => `opsight.leader.${name}`;
export const leaderGroup = (name: string): string => `opsight-leader-${name}`;

const ASSIGNER = 'OpsightLeader';
const CLAIM = Buffer.from('leader');

/** Partition 0 to the member that already leads (the first claimant by member id), else the first member. */
export function stickyLeaderAssigner(leads: () => boolean): PartitionAssigner {
  return () => ({
    name: ASSIGNER,
    version: 1,
    protocol: ({ topics }) => ({
      name: ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: leads() ? CLAIM : Buffer.alloc(0),
      }),
    }),
    assign: ({ members, topics }) => {
      const sorted = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId));
      const claims = (m: GroupMember) =>
        AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData.equals(CLAIM) ?? false;
      const holder = sorted.find(claims) ?? sorted[0];
      return Promise.resolve(
        members.map((m) => ({
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: m === holder ? Object.fromEntries(topics.map((t) => [t, [0]])) : {},
            userData: Buffer.alloc(0),
          }),
        })),
      );
    },
  });
}

class Election implements Leadership {
  private leader = false;
  private closed = false;
  private readonly listeners: ((leader: boolean) => void | Promise<void>)[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  isLeader(): boolean {
    return this.leader;
  }

  onChange(fn: (leader: boolean) => void | Promise<void>): void {
    this.listeners.push(fn);
    if (this.leader) this.run(fn, true);
  }

  private run(fn: (leader: boolean) => void | Promise<void>, leader: boolean): void {
    this.queue = this.queue
      .then(() => fn(leader))
      .catch((err: unknown) =>
        this.log.error({ err, election: this.name, leader }, 'leadership change handler failed'),
      );
  }

  set(leader: boolean): void {
    if (leader === this.leader || (leader && this.closed)) return;
    this.leader = leader;
    this.log.info({ election: this.name }, leader ? `leader of ${this.name}` : `standby for ${this.name}`);
    for (const fn of this.listeners) this.run(fn, leader);
  }

  /** Steps down and waits for the listeners. */
  async stepDown(): Promise<void> {
    this.closed = true;
    this.set(false);
    await this.queue;
  }

  async close(): Promise<void> {
    await this.stepDown();
  }
}

export async function electLeader(options: ElectOptions): Promise<Leadership> {
  const log = options.log ?? rootLogger('leader');
  const election = new Election(options.name, log);
  if (!(options.bus instanceof KafkaBus)) {
    election.set(true);
    return election;
  }
  const bus = options.bus;
  const topic = leaderTopic(options.name);
  const groupId = leaderGroup(options.name);
  await bus.ensureTopics([
    {
      name: topic,
      partitions: 1,
      ...(options.replicationFactor !== undefined ? { replicationFactor: options.replicationFactor } : {}),
    },
  ]);

  let consumer: Consumer | undefined;
  let stopping = false;
  let joined: (() => void) | undefined;
  const firstJoin = new Promise<void>((resolve) => (joined = resolve));

  const start = async (): Promise<void> => {
    for (let attempt = 1; !stopping; attempt++) {
      const c = bus.client.consumer({
        groupId,
        sessionTimeout: bus.opts.sessionTimeoutMs,
        maxWaitTimeInMs: bus.opts.maxWaitTimeMs,
        partitionAssigners: [stickyLeaderAssigner(() => election.isLeader())],
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, ({ payload }) => {
        if (consumer !== c) return;
        election.set((payload.memberAssignment[topic] ?? []).includes(0));
        joined?.();
      });
      // Out of the group (stopped, crashed, disconnected): no longer the leader.
      const out = () => {
        if (consumer === c) election.set(false);
      };
      c.on(c.events.STOP, out);
      c.on(c.events.DISCONNECT, out);
      c.on(c.events.CRASH, ({ payload }) => {
        out();
        if (stopping || consumer !== c || payload.restart) return;
        log.warn(
          { election: options.name, err: payload.error },
          'leader election consumer crashed, recreating',
        );
        void c
          .disconnect()
          .catch(() => {})
          .then(() => new Promise((r) => setTimeout(r, bus.opts.retryDelayMs)))
          .then(() => start());
      });
      try {
        await c.connect();
        await c.subscribe({ topics: [topic], fromBeginning: false });
        // Nothing is ever published there: the partition's owner is what matters.
        await c.run({ eachMessage: async () => {} });
        return;
      } catch (err) {
        await c.disconnect().catch(() => {});
        if (stopping) return;
        const delay = Math.min(10_000, 500 * 2 ** (attempt - 1));
        log.warn({ election: options.name, err }, `leader election could not join, retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
  await start();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    firstJoin,
    new Promise<void>((r) => {
      timer = setTimeout(r, options.joinTimeoutMs ?? 30_000);
    }),
  ]);
  clearTimeout(timer);

  return {
    isLeader: () => election.isLeader(),
    onChange: (fn) => election.onChange(fn),
    close: async () => {
      // Work stops first; only then may a standby take over.
      await election.stepDown();
      stopping = true;
      await consumer?.disconnect().catch(() => {});
    },
  };
}

/**
 * Runs `fn` (a leader's start-up), retrying with backoff while this process still leads: a
 * leader whose start failed (ClickHouse down for a moment) would otherwise hold leadership and
 * do nothing. Returns undefined if leadership was lost first.
 */
export async function whileLeading<T>(
  leadership: Leadership,
  what: string,
  fn: () => Promise<T>,
  log: Logger,
): Promise<T | undefined> {
  for (let attempt = 0; leadership.isLeader(); attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = Math.min(10_000, 500 * 2 ** attempt);
      log.error({ err }, `${what} failed as leader, retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  return undefined;
}
