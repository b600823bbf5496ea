import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { generateDdl, migrations } from '../../core/clickhouse/migrate.ts';
import { startWriter, WriterCounters } from '../../ingest/writer/index.ts';
import { deployProfile, startTestCluster, type TestCluster } from '../support/deploy-cluster.ts';
import { billingLine, logRecord, metricRecords, quiet, waitFor } from '../writer/support.ts';

/**
 * The cluster schema (`CLICKHOUSE_CLUSTER=opsight opsight migrate --print`) on real ClickHouse
 * servers configured as nodes of a cluster: two chdb servers, one per shard, with remote_servers,
 * macros and a (test) Keeper. What chdb can run is run for real: every statement of the
 * replicated schema is created on a node, and the sharded write path (the writer inserting
 * through the Distributed tables, a crash replay deduplicated on each shard) runs across both.
 * What it cannot (replication between nodes, the ON CLUSTER DDL queue) needs a real cluster:
 * see test/support/deploy-cluster.ts for why, and deploy/compose.yaml for one.
 */

const CLUSTER = 'opsight';
const ttlDays = { metrics: 30, logs: 14, traces: 7, billing: 0, alerts: 180, deadLetters: 14 };
const tables = migrations.flatMap((m) => (m.tables ?? []).map((t) => t.name));

/** What runs on one node when the ON CLUSTER queue is not there: the same DDL, node by node. */
const withoutOnCluster = (statement: string) => statement.replace(/ ON CLUSTER `[^`]+`/, '');

/**
 * The replicated engines as their single-node equivalents (same sort keys, merge semantics,
 * TTLs, settings), for the nodes chdb cannot make replicas of; everything else unchanged.
 */
const unreplicated = (statement: string) =>
  withoutOnCluster(statement)
    .replace(/ENGINE = Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?/, 'ENGINE = $1(')
    .replace('replicated_deduplication_window', 'non_replicated_deduplication_window');

/** What `CLICKHOUSE_CLUSTER=opsight opsight migrate --print` prints, one statement per entry. */
function printedDdl(database: string): string[] {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CLICKHOUSE_|KAFKA_|OPSIGHT_)/.test(k)) delete env[k];
  const r = spawnSync(process.execPath, [join(process.cwd(), 'bin/opsight.js'), 'migrate', '--print'], {
    env: { ...env, CLICKHOUSE_CLUSTER: CLUSTER, CLICKHOUSE_DATABASE: database, OPSIGHT_LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split(';\n\n')
    .map((x) => x.replace(/;\n$/, '').trim())
    .filter(Boolean);
}

let cluster: TestCluster;
const clients: ClickHouseClient[] = [];

function client(url: string, settings: Record<string, string> = {}, database?: string): ClickHouseClient {
  const c = createClient({
    url,
    database,
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, async_insert: 0, ...settings },
    log: { level: ClickHouseLogLevel.OFF },
  });
  clients.push(c);
  return c;
}

async function rows<T>(
  c: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const rs = await c.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

async function scalar(c: ClickHouseClient, query: string): Promise<number> {
  const [r] = await rows<Record<string, number>>(c, query);
  return Number(Object.values(r!)[0]);
}

/** Every table's columns (names, types, order) are the same on both sides of its Distributed table. */
async function expectSameColumns(c: ClickHouseClient, database: string): Promise<void> {
  const columns = await rows<{ table: string; cols: string }>(
    c,
    `SELECT table, arrayStringConcat(groupArray(name || ' ' || type), ',') AS cols
     FROM (SELECT table, name, type FROM system.columns WHERE database = {db:String} ORDER BY table, position)
     GROUP BY table`,
    { db: database },
  );
  const byTable = new Map(columns.map((r) => [r.table, r.cols]));
  for (const t of tables) {
    expect(byTable.get(t), t).toBeDefined();
    expect(byTable.get(t), t).toBe(byTable.get(`${t}_local`));
  }
}

beforeAll(async () => {
  cluster = await startTestCluster(CLUSTER, 2);
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await cluster?.stop();
});

describe('cluster schema on ClickHouse nodes of a 2-shard cluster', () => {
  it('sees the cluster as remote_servers defines it', async () => {
    const c = client(cluster.nodes[0]!.url);
    const shards = await rows<{ shard_num: number; port: number; is_local: number }>(
      c,
      'SELECT shard_num, port, is_local FROM system.clusters WHERE cluster = {c:String} ORDER BY shard_num',
      { c: CLUSTER },
    );
    expect(shards.map((s) => [s.shard_num, s.port, s.is_local])).toEqual([
      [1, cluster.nodes[0]!.tcpPort, 1],
      [2, cluster.nodes[1]!.tcpPort, 0],
    ]);
    // The limit that makes the tests below create the schema node by node.
    await expect(
      c.command({ query: generateDdl({ database: 'x', cluster: CLUSTER, ttlDays })[0]! }),
    ).rejects.toThrow(/Replicated DDL queries are disabled/);
  });

  it('creates every replicated table and Distributed twin, with Keeper paths from the macros', async () => {
    const database = 'opsight_repl';
    const node = cluster.nodes[0]!;
    const c = client(node.url);
    // ALTERs (later migrations adding columns) are left to the sharded test below: on a
    // replicated table they go through the Keeper log and need an active replica.
    const printed = printedDdl(database);
    // The command prints what generateDdl() renders for the configured cluster (default TTLs).
    expect(printed).toEqual(generateDdl({ database, cluster: CLUSTER, ttlDays }));
    const ddl = printed.filter((s) => s.startsWith('CREATE '));
    expect(ddl.length).toBeGreaterThan(2 * tables.length);
    for (const statement of ddl) await c.command({ query: withoutOnCluster(statement) });

    const replicas = await rows<{ table: string; zookeeper_path: string; replica_name: string }>(
      c,
      'SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = {db:String} ORDER BY table',
      { db: database },
    );
    const expected = [
      ...tables.map((t) => ({
        table: `${t}_local`,
        zookeeper_path: `/clickhouse/tables/${node.shard}/${database}/${t}`,
        replica_name: node.replica,
      })),
      // Migration records: one table across all shards, replica names unique cluster-wide.
      {
        table: 'schema_migrations',
        zookeeper_path: `/clickhouse/tables/${database}/schema_migrations`,
        replica_name: `${node.shard}-${node.replica}`,
      },
    ].sort((a, b) => a.table.localeCompare(b.table));
    expect(replicas).toEqual(expected);

    const dist = await rows<{ name: string; engine_full: string }>(
      c,
      `SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND engine = 'Distributed' ORDER BY name`,
      { db: database },
    );
    expect(dist.map((d) => d.name)).toEqual([...tables].sort());
    for (const d of dist)
      expect(d.engine_full, d.name).toMatch(
        new RegExp(`^Distributed\\('${CLUSTER}', '${database}', '${d.name}_local', .+\\)$`),
      );

    await expectSameColumns(c, database);
  });

  it('writes through the Distributed tables across both shards, each series on one shard, and a replay adds nothing', async () => {
    const database = 'opsight_shards';
    // No TTL: the test records carry fixed timestamps that a TTL could expire at once.
    const keep = { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 };
    for (const node of cluster.nodes) {
      const c = client(node.url);
      for (const statement of generateDdl({ database, cluster: CLUSTER, ttlDays: keep }))
        await c.command({ query: unreplicated(statement) });
      await expectSameColumns(c, database);
    }
    // The writer's connection as the opsight user of deploy/ has it: its profile's settings.
    const profile = deployProfile('opsight');
    expect(profile.distributed_foreground_insert).toBe('1');
    const writerClient = client(cluster.nodes[0]!.url, profile, database);

    const n = 3000;
    const publishAll = async (bus: MemoryBus) => {
      for (let i = 0; i < n; i += 500) await bus.publish(TOPICS.metrics, metricRecords(i, i + 500));
      await bus.publish(
        TOPICS.logs,
        Array.from({ length: 300 }, (_, i) => ({
          key: `svc-${i % 12}`,
          value: { ...logRecord(i), serviceName: `svc-${i % 12}` },
        })),
      );
      await bus.publish(
        TOPICS.billing,
        Array.from({ length: 60 }, (_, i) => ({ key: `line-${i}`, value: billingLine(i) })),
      );
    };
    const config = { maxRows: 400, maxBytes: 32 * 1024 * 1024, maxAgeMs: 100, retryMaxDelayMs: 1000 };
    const run = async () => {
      const bus = new MemoryBus({ defaultPartitions: 4 });
      const counters = new WriterCounters();
      // One token scope for both runs: the second is the first one's replay after a crash.
      const writer = await startWriter({
        bus,
        clickhouse: writerClient,
        database,
        config,
        events: counters,
        tokenScope: 'replay-test',
        log: quiet,
      });
      await publishAll(bus);
      await waitFor(() => counters.committedMessages >= n + 360, 'all messages committed');
      await writer.stop();
      await bus.close();
    };

    const [first, second] = cluster.nodes.map((node) => client(node.url, {}, database));
    const totals = async () => ({
      metrics: await scalar(
        first!,
        `SELECT (SELECT count() FROM otel_metrics_gauge) + (SELECT count() FROM otel_metrics_sum) + (SELECT count() FROM otel_metrics_histogram)`,
      ),
      logs: await scalar(first!, 'SELECT count() FROM otel_logs'),
      billing: await scalar(first!, 'SELECT count() FROM billing_focus'),
      distinct: await scalar(
        first!,
        `SELECT uniqExact(v) FROM (SELECT Value AS v FROM otel_metrics_gauge UNION ALL SELECT Value FROM otel_metrics_sum UNION ALL SELECT Sum FROM otel_metrics_histogram)`,
      ),
    });

    await run();
    // Foreground inserts: acknowledged means stored on the shards, so the totals are final.
    expect(await totals()).toEqual({ metrics: n, logs: 300, billing: 60, distinct: n });

    // The rows are spread over both shards, and every series lives on exactly one.
    const perShard = await Promise.all(
      [first!, second!].map((c) => scalar(c, 'SELECT count() FROM otel_metrics_gauge_local')),
    );
    expect(perShard[0]).toBeGreaterThan(0);
    expect(perShard[1]).toBeGreaterThan(0);
    const seriesOf = (c: ClickHouseClient) =>
      rows<{ s: string }>(
        c,
        `SELECT DISTINCT ServiceName || MetricName || toString(Attributes) AS s FROM otel_metrics_gauge_local`,
      );
    const [s1, s2] = await Promise.all([seriesOf(first!), seriesOf(second!)]);
    const onFirst = new Set(s1.map((r) => r.s));
    expect(s2.filter((r) => onFirst.has(r.s))).toEqual([]);

    // A second writer replaying the same offsets (what follows a crash) re-cuts them at the
    // ranges recorded in ingest_batches, read back through its Distributed table, and each shard
    // drops the pieces it already has by their deduplication tokens.
    await run();
    expect(await totals()).toEqual({ metrics: n, logs: 300, billing: 60, distinct: n });
  });
});
