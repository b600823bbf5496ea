import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ping } from '../../core/clickhouse/embedded.ts';
import { ensureLauncher } from '../../core/clickhouse/launcher.ts';
import { freePort } from '../../core/net.ts';

/**
 * A small ClickHouse "cluster" from chdb's embedded server, for testing the cluster schema
 * here. Each node is its own server process with the configuration a cluster node has:
 * remote_servers (every node a shard, on its TCP port), {shard}/{replica} macros and a
 * <zookeeper> section. What chdb's server (clickhouse-local with listeners) cannot do, found by
 * trying: it has no Keeper server (built without NuRaft), refuses ON CLUSTER ("Replicated DDL
 * queries are disabled": no DDL worker), and its Replicated*MergeTree tables stay read-only
 * (no interserver endpoint; SYSTEM START LISTEN takes only TCP and HTTP). With the in-memory
 * `testkeeper` it does create replicated tables, which checks their engine arguments and
 * macro-expanded Keeper paths; Distributed tables over its TCP listeners work for real.
 */

// As in core/clickhouse/embedded.ts, plus the native TCP listener that Distributed tables use.
const KEEPALIVE_QUERY =
  'SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT sleep(3) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null';

export interface ClusterNode {
  url: string;
  shard: string;
  replica: string;
  tcpPort: number;
  stop(): Promise<void>;
}

export interface TestCluster {
  name: string;
  nodes: ClusterNode[];
  stop(): Promise<void>;
}

function nodeConfig(
  cluster: string,
  shards: { tcpPort: number }[],
  self: { tcpPort: number; shard: string; replica: string; interserverPort: number },
): string {
  const shardXml = shards
    .map(
      (s) =>
        `      <shard><internal_replication>true</internal_replication>` +
        `<replica><host>127.0.0.1</host><port>${s.tcpPort}</port></replica></shard>`,
    )
    .join('\n');
  return `<clickhouse>
  <tcp_port>${self.tcpPort}</tcp_port>
  <interserver_http_port>${self.interserverPort}</interserver_http_port>
  <macros><shard>${self.shard}</shard><replica>${self.replica}</replica></macros>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <remote_servers>
    <${cluster}>
${shardXml}
    </${cluster}>
  </remote_servers>
</clickhouse>
`;
}

async function startNode(dir: string, httpPort: number): Promise<ChildProcess> {
  const child = spawn(
    ensureLauncher(),
    [`--path=${dir}`, `--http_port=${httpPort}`, '--listen_host=127.0.0.1', '-q', KEEPALIVE_QUERY],
    {
      // clickhouse-local reads config.xml from its working directory.
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, OPSIGHT_PARENT_PID: String(process.pid) },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const url = `http://127.0.0.1:${httpPort}`;
  const until = Date.now() + 60_000;
  while (!(await ping(url, 500))) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`cluster node did not start: ${stderr}`);
    }
    await sleep(100);
  }
  return child;
}

/** One node per shard (one replica each: chdb cannot replicate), all in cluster `name`. */
export async function startTestCluster(name: string, shards: number): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), 'opsight-cluster-'));
  const ports = await Promise.all(
    Array.from({ length: shards }, async () => ({
      http: await freePort(),
      tcpPort: await freePort(),
      interserverPort: await freePort(),
    })),
  );
  const nodes: ClusterNode[] = [];
  try {
    for (const [i, p] of ports.entries()) {
      const dir = join(root, `node${i + 1}`);
      mkdirSync(dir, { recursive: true });
      const shard = String(i + 1).padStart(2, '0');
      writeFileSync(
        join(dir, 'config.xml'),
        nodeConfig(name, ports, {
          tcpPort: p.tcpPort,
          shard,
          replica: 'r1',
          interserverPort: p.interserverPort,
        }),
      );
      const child = await startNode(dir, p.http);
      nodes.push({
        url: `http://127.0.0.1:${p.http}`,
        shard,
        replica: 'r1',
        tcpPort: p.tcpPort,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const gone = new Promise((r) => child.once('exit', r));
          // Read-only replicated tables can make a clean shutdown linger; nothing here is kept.
          child.kill('SIGKILL');
          await gone;
        },
      });
    }
  } catch (err) {
    for (const n of nodes) await n.stop();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    name,
    nodes,
    stop: async () => {
      for (const n of nodes) await n.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The settings of a profile in deploy/clickhouse/users.d/opsight.xml, for a client to apply. */
export function deployProfile(profile: string): Record<string, string> {
  const text = readFileSync(join(process.cwd(), 'deploy/clickhouse/users.d/opsight.xml'), 'utf8').replace(
    /<!--[\s\S]*?-->/g,
    '',
  );
  const body = new RegExp(`<profiles>[\\s\\S]*?<${profile}>([\\s\\S]*?)</${profile}>`).exec(text)?.[1];
  if (body === undefined) throw new Error(`no profile ${profile} in deploy/clickhouse/users.d/opsight.xml`);
  return Object.fromEntries([...body.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map((m) => [m[1]!, m[2]!]));
}
