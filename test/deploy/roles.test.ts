import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { partitionFor } from '../../core/bus/partitioner.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { CORRELATE_GROUP } from '../../correlate/role.ts';
import { LOGS_GROUP } from '../../detect/logs/stream.ts';
import { DEFAULT_GROUP } from '../../ingest/writer/index.ts';
import { startKafka, type KafkaBroker } from '../support/kafka.ts';
import { startOpsight, until, type OpsightProcess } from '../support/deploy-process.ts';
import { startHoldingProxy } from '../support/deploy-proxy.ts';

/**
 * The scale-out shape of deploy/compose.yaml on one broker and one ClickHouse: two
 * `opsight start --role ingest` processes share the writer's consumer group, a detect and a
 * correlate process run beside them, records go to both ingest processes over HTTP, one ingest
 * process is SIGKILLed half way (at a moment when some of its rows are stored but their offsets
 * not committed) while the other keeps taking records, and every record must land in ClickHouse
 * exactly once.
 *
 * Topic and group names are fixed in opsight, so this test runs its own Kafka broker: on the
 * shared one, its writers would join the group of other tests' writers.
 */

const N = 6000;
const CHUNK = 250;
const SERVICES = 24;

let kafka: KafkaBroker;
let admin: Admin;
let ch: ClickHouseClient;
let dir: string;
const database = `opsight_deploy_${Math.random().toString(36).slice(2, 8)}`;
const procs: OpsightProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsight-deploy-'));
  kafka = await startKafka();
  admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  ch = createClient({ url: inject('clickhouseUrl'), username: 'default', password: '' });
}, 180_000);

afterAll(async () => {
  for (const p of procs) await p.kill();
  for (const fn of cleanups) await fn();
  await admin?.disconnect();
  await ch?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch?.close();
  await kafka?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function env(): Record<string, string> {
  return {
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_PARTITIONS: '6',
    CLICKHOUSE_URL: inject('clickhouseUrl'),
    CLICKHOUSE_DATABASE: database,
  };
}

/** Small, fast batches, so that a kill lands between inserts and offset commits. */
function configFile(): string {
  const file = join(dir, 'opsight-test.yaml');
  writeFileSync(file, 'writer:\n  maxRows: 500\n  maxAgeMs: 200\n');
  return file;
}

function logs(from: number, to: number) {
  const base = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: to - from }, (_, j) => {
    const i = from + j;
    const service = `deploy-svc-${i % SERVICES}`;
    return {
      timeUnixNano: String(base + BigInt(i)),
      severityNumber: 9,
      severityText: 'INFO',
      body: `deploy record ${i}`,
      serviceName: service,
      resource: { 'service.name': service },
      attributes: { seq: String(i) },
    };
  });
}

async function send(p: OpsightProcess, from: number, to: number): Promise<void> {
  const res = await fetch(`${p.http}/api/v1/records/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(logs(from, to)),
  });
  expect(res.status, await res.clone().text()).toBe(202);
}

interface Member {
  id: string;
  partitions: number;
  logs: number[];
}

async function members(group: string): Promise<{ state: string; members: Member[] }> {
  const { groups } = await admin.describeGroups([group]);
  const g = groups[0]!;
  return {
    state: g.state,
    members: g.members.map((m) => {
      const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {};
      return {
        id: m.memberId,
        partitions: Object.values(a).reduce((n, ps) => n + ps.length, 0),
        logs: [...(a[TOPICS.logs] ?? [])].sort((x, y) => x - y),
      };
    }),
  };
}

async function stored(): Promise<{ rows: number; distinct: number }> {
  const rs = await ch.query({
    query: `SELECT count() AS rows, uniqExact(LogAttributes['seq']) AS distinct
      FROM ${database}.otel_logs WHERE startsWith(ServiceName, 'deploy-svc-')`,
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ rows: string; distinct: string }>();
  return { rows: Number(r!.rows), distinct: Number(r!.distinct) };
}

/**
 * Records of the given partitions already in ClickHouse minus the offsets committed there:
 * what the next owner will replay although it is stored (until then nothing writes them).
 */
async function replayOverlap(partitions: number[]): Promise<number> {
  if (partitions.length === 0) return 0;
  const services = Array.from({ length: SERVICES }, (_, i) => `deploy-svc-${i}`).filter((s) =>
    partitions.includes(partitionFor(s, 6)),
  );
  const rs = await ch.query({
    query: `SELECT count() AS n FROM ${database}.otel_logs WHERE ServiceName IN {services:Array(String)}`,
    query_params: { services },
    format: 'JSONEachRow',
  });
  const storedRows = Number((await rs.json<{ n: string }>())[0]!.n);
  const committed = await admin.fetchOffsets({ groupId: DEFAULT_GROUP, topics: [TOPICS.logs] });
  const done = committed[0]!.partitions
    .filter((p) => partitions.includes(p.partition))
    .reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  return storedRows - done;
}

async function groupLag(group: string, topic: string): Promise<number> {
  const [committed, latest] = await Promise.all([
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
    admin.fetchTopicOffsets(topic),
  ]);
  const done = new Map(committed[0]!.partitions.map((p) => [p.partition, Number(p.offset)]));
  return latest.reduce((sum, p) => sum + Number(p.high) - Math.max(0, done.get(p.partition) ?? 0), 0);
}

describe('roles as separate processes (deploy/compose.yaml on one broker and one ClickHouse)', () => {
  it('shares the writer group between ingest processes and loses or doubles nothing when one is killed', async () => {
    const config = configFile();
    // Ingest 1 reaches ClickHouse through a proxy that can withhold answers (see below).
    const proxy = await startHoldingProxy(inject('clickhouseUrl'));
    cleanups.push(() => proxy.close());
    // The first process creates the database, schema and topics; the others find them.
    const ingest1 = await startOpsight(
      ['--config', config, 'start', '--role', 'ingest'],
      { ...env(), CLICKHOUSE_URL: proxy.url },
      dir,
    );
    procs.push(ingest1);
    const alone = await until(
      'writer group with ingest 1',
      () => members(DEFAULT_GROUP),
      (g) => g.state === 'Stable' && g.members.length === 1,
    );
    // kafkajs keeps its member id across rebalances: this is how ingest 1 is told apart below.
    const ingest1Member = alone.members[0]!.id;
    const [ingest2, detect, correlate] = await Promise.all([
      startOpsight(['--config', config, 'start', '--role', 'ingest'], env(), dir),
      startOpsight(['--config', config, 'start', '--role', 'detect'], env(), dir),
      startOpsight(['--config', config, 'start', '--role', 'correlate'], env(), dir),
    ]);
    procs.push(ingest2, detect, correlate);

    // Both ingest processes are members of the one writer group, each with its own partitions.
    const before = await until(
      'writer group with two members',
      () => members(DEFAULT_GROUP),
      (g) => g.state === 'Stable' && g.members.length === 2 && g.members.every((m) => m.logs.length > 0),
    );
    const [a, b] = before.members;
    expect(a!.partitions + b!.partitions).toBe(4 * 6);
    expect([...a!.logs, ...b!.logs].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const ingest1Logs = before.members.find((m) => m.id === ingest1Member)?.logs;
    expect(ingest1Logs?.length).toBeGreaterThan(0);
    // The other roles consume in their own groups, one member each.
    expect((await members(CORRELATE_GROUP)).members).toHaveLength(1);
    expect((await members(LOGS_GROUP)).members).toHaveLength(1);

    // Two senders, one per ingest process. Half way, ClickHouse's answers to ingest 1's log
    // inserts are withheld: rows stored, offsets not committed. Once that has happened, ingest 1
    // is SIGKILLed (right after an accepted request) and its sender moves to ingest 2, as a load
    // balancer would.
    const chunks = Array.from({ length: N / CHUNK }, (_, k) => [k * CHUNK, (k + 1) * CHUNK] as const);
    const mine = (s: number) => chunks.filter((_, k) => k % 2 === s);
    let killed = false;
    let storedNotCommitted = 0;
    const heldAndStored = async () => proxy.withheld() > 0 && (await replayOverlap(ingest1Logs!)) > 0;
    const killIngest1 = async () => {
      await ingest1.kill();
      killed = true;
      // Nothing writes the dead member's partitions until the group notices it is gone.
      storedNotCommitted = await replayOverlap(ingest1Logs!);
    };
    const sender1 = (async () => {
      const list = mine(0);
      for (const [k, [from, to]] of list.entries()) {
        await send(killed ? ingest2 : ingest1, from, to);
        if (k === Math.floor(list.length / 2)) proxy.hold(/INSERT INTO .*otel_logs/);
        if (!killed && k >= list.length / 2 && (await heldAndStored())) await killIngest1();
      }
      // A slow writer may not have inserted anything since the hold: wait for it.
      if (!killed) {
        await until('an insert of ingest 1 stored and its answer withheld', heldAndStored, (x) => x);
        await killIngest1();
      }
    })();
    const sender2 = (async () => {
      for (const [from, to] of mine(1)) await send(ingest2, from, to);
    })();
    await Promise.all([sender1, sender2]);
    expect(killed).toBe(true);
    expect(storedNotCommitted).toBeGreaterThan(0);

    // The survivor takes over the dead member's partitions and replays what it left uncommitted,
    // including the rows already stored: their deduplication tokens make ClickHouse drop them.
    const after = await until(
      'writer group down to the survivor',
      () => members(DEFAULT_GROUP),
      (g) => g.state === 'Stable' && g.members.length === 1,
    );
    expect(after.members[0]!.id).not.toBe(ingest1Member);
    expect(after.members[0]!.logs).toEqual([0, 1, 2, 3, 4, 5]);
    await until(
      'writer group caught up',
      () => groupLag(DEFAULT_GROUP, TOPICS.logs),
      (lag) => lag === 0,
    );
    await until('rows stored', stored, (s) => s.rows >= N);
    // Caught up and committed: nothing is still on its way, so the count is final.
    expect(await stored()).toEqual({ rows: N, distinct: N });
    console.log(
      `deploy roles: ${N} records, ${storedNotCommitted} of them stored but uncommitted when ingest 1 was killed; ${N} stored once each`,
    );

    // The detect role read the same records in its own group, independently of the writer.
    await until(
      'detect logs group caught up',
      () => groupLag(LOGS_GROUP, TOPICS.logs),
      (lag) => lag === 0,
    );

    for (const p of [ingest2, detect, correlate]) expect(await p.stop(), p.role).toBe(0);
  }, 600_000);
});
