import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config/load.ts';

/**
 * deploy/compose.yaml cannot run here (no Docker daemon), so its wiring is checked as data:
 * every address a service is given names a service that exists, the Kafka and Keeper quorums
 * are whole, and the four ClickHouse nodes' macros match the cluster they are declared in.
 */

const deployDir = resolve('deploy');
const composeFile = join(deployDir, 'compose.yaml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  hostname?: string;
  networks?: Record<string, { aliases?: string[] } | null>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
}

// Merge keys (`<<: *anchor`) are YAML 1.1, which Compose follows.
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const names = Object.keys(services);
const byPrefix = (p: string) => names.filter((n) => n.startsWith(p)).sort();

/** Every name a container can be reached by: service names, hostnames and network aliases. */
const reachable = new Set(
  names.flatMap((n) => {
    const s = services[n]!;
    const aliases = Object.values(s.networks ?? {}).flatMap((net) => net?.aliases ?? []);
    return [n, ...(s.hostname ? [s.hostname] : []), ...aliases];
  }),
);

function env(name: string): Record<string, string> {
  const e = services[name]?.environment ?? {};
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** host:port pairs of a comma-separated list or URL. */
function hosts(value: string): string[] {
  return value.split(',').map((v) => new URL(v.includes('://') ? v : `tcp://${v}`).hostname);
}

/** A bind mount's host path (relative to deploy/) and container path. */
function mounts(name: string): { host: string; container: string }[] {
  return (services[name]?.volumes ?? [])
    .filter((v) => v.startsWith('.'))
    .map((v) => {
      const [host, container] = v.split(':');
      return { host: resolve(deployDir, host!), container: container! };
    });
}

function xml(file: string): string {
  return readFileSync(file, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
}

const opsightRoles = names.filter((n) => services[n]!.build?.dockerfile === 'deploy/Dockerfile');

describe('deploy/compose.yaml', () => {
  it('runs each opsight role as its own service from the one image', () => {
    expect(opsightRoles.sort()).toEqual(['correlate', 'detect', 'ingest', 'migrate']);
    for (const role of ['ingest', 'detect', 'correlate'])
      expect(services[role]!.command).toEqual(['start', '--role', role]);
    expect(services.migrate!.command).toEqual(['migrate']);
    // Several replicas of every role (detect and correlate elect a leader among theirs).
    for (const role of ['ingest', 'detect', 'correlate'])
      expect(services[role]!.deploy?.replicas, role).toBeGreaterThanOrEqual(2);
    const dockerfile = readFileSync(join(deployDir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toContain('npm ci');
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/opsight\.js"/);
    expect(existsSync(resolve(deployDir, services.ingest!.build!.context, 'package-lock.json'))).toBe(true);
  });

  it('points every opsight service at brokers and ClickHouse nodes that exist, in cluster mode', () => {
    for (const role of opsightRoles) {
      const e = env(role);
      const brokers = hosts(e.KAFKA_BROKERS!);
      expect(brokers.sort(), role).toEqual(byPrefix('kafka-'));
      for (const h of hosts(e.CLICKHOUSE_URL!)) expect(reachable.has(h), `${role}: ${h}`).toBe(true);
      expect(e.CLICKHOUSE_CLUSTER, role).toBe('opsight');
      expect(e.OPSIGHT_TOKENS, role).toMatch(/^\$\{OPSIGHT_TOKENS:\?/);
      expect(e.CLICKHOUSE_PASSWORD, role).toMatch(/^\$\{OPSIGHT_CLICKHOUSE_PASSWORD:\?/);
      for (const dep of Object.keys(services[role]!.depends_on ?? {}))
        expect(names, `${role} depends on ${dep}`).toContain(dep);
    }
    // Every node answers to the shared alias the roles use.
    for (const node of byPrefix('clickhouse-'))
      expect(services[node]!.networks?.default?.aliases, node).toContain('clickhouse');
  });

  it('gives opsight a configuration file that its own loader accepts, with the environment on top', () => {
    const [file] = mounts('ingest').filter((m) => m.container === '/etc/opsight/opsight.yaml');
    expect(file).toBeDefined();
    const e = Object.fromEntries(
      Object.entries(env('ingest')).map(([k, v]) => [k, v.startsWith('${') ? 'x'.repeat(8) : v]),
    );
    e.OPSIGHT_TOKENS = 'collector:0123456789abcdef0123:ingest';
    const { config } = loadConfig({ file: file!.host, env: e });
    expect(config.kafka.brokers).toEqual(['kafka-1:9092', 'kafka-2:9092', 'kafka-3:9092']);
    expect(config.kafka.replicationFactor).toBe(3);
    // Each partition goes to one member of a group: the ingest role cannot use more replicas.
    expect(config.kafka.partitions).toBeGreaterThanOrEqual(services.ingest!.deploy!.replicas!);
    expect(config.clickhouse.cluster).toBe('opsight');
    expect(config.http.addr).toBe('0.0.0.0:4318');
  });

  it('runs 3 Kafka brokers in KRaft with a controller quorum of all 3', () => {
    const brokers = byPrefix('kafka-');
    expect(brokers).toEqual(['kafka-1', 'kafka-2', 'kafka-3']);
    const ids = new Set<string>();
    const clusterIds = new Set<string>();
    for (const b of brokers) {
      const e = env(b);
      expect(e.KAFKA_PROCESS_ROLES).toBe('broker,controller');
      const voters = e
        .KAFKA_CONTROLLER_QUORUM_VOTERS!.split(',')
        .map((v) => /^(\d+)@([\w-]+):(\d+)$/.exec(v));
      expect(voters.map((v) => v?.[2]).sort()).toEqual(brokers);
      // This broker's own id is in the quorum under its own name, on the controller listener port.
      const self = voters.find((v) => v?.[2] === b);
      expect(self?.[1]).toBe(e.KAFKA_NODE_ID);
      expect(e.KAFKA_LISTENERS).toContain(`CONTROLLER://:${self?.[3]}`);
      expect(e.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${b}:9092`);
      expect(Number(e.KAFKA_MIN_INSYNC_REPLICAS)).toBe(2);
      expect(Number(e.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR)).toBe(3);
      ids.add(e.KAFKA_NODE_ID!);
      clusterIds.add(e.CLUSTER_ID!);
    }
    expect(ids.size).toBe(3);
    expect(clusterIds.size).toBe(1);
    // The default cluster id must be what kafka-storage expects: 16 bytes, base64url.
    const id = /:-([^}]+)\}/.exec([...clusterIds][0]!)?.[1];
    expect(Buffer.from(id!, 'base64url').length).toBe(16);
  });

  it('runs 3 Keepers whose raft configuration names each of them under its own id', () => {
    const keepers = byPrefix('keeper-');
    expect(keepers).toEqual(['keeper-1', 'keeper-2', 'keeper-3']);
    const configs = new Set(keepers.flatMap((k) => mounts(k).map((m) => m.host)));
    expect(configs.size).toBe(1);
    const text = xml([...configs][0]!);
    expect(text).toContain('<server_id from_env="KEEPER_SERVER_ID"/>');
    const raft = [
      ...text.matchAll(/<server><id>(\d+)<\/id><hostname>([\w-]+)<\/hostname><port>(\d+)<\/port>/g),
    ];
    expect(raft.map((m) => m[2]).sort()).toEqual(keepers);
    for (const k of keepers)
      expect(raft.find((m) => m[2] === k)?.[1], k).toBe(String(services[k]!.environment!.KEEPER_SERVER_ID));
    const port = /<tcp_port>(\d+)<\/tcp_port>/.exec(text)?.[1];
    // ClickHouse's <zookeeper> lists the three keepers on their client port.
    const cluster = xml(join(deployDir, 'clickhouse/config.d/cluster.xml'));
    const zk = [...cluster.matchAll(/<node><host>([\w-]+)<\/host><port>(\d+)<\/port><\/node>/g)];
    expect(zk.map((m) => m[1]).sort()).toEqual(keepers);
    for (const m of zk) expect(m[2]).toBe(port);
  });

  it('runs 4 ClickHouse nodes whose macros match their place in remote_servers (2 shards x 2 replicas)', () => {
    const nodes = byPrefix('clickhouse-');
    expect(nodes).toHaveLength(4);
    const cluster = xml(join(deployDir, 'clickhouse/config.d/cluster.xml'));
    const body = /<opsight>([\s\S]*?)<\/opsight>/.exec(cluster)?.[1] ?? '';
    const shards = [...body.matchAll(/<shard>([\s\S]*?)<\/shard>/g)].map((m) =>
      [...m[1]!.matchAll(/<host>([\w-]+)<\/host>/g)].map((h) => h[1]!),
    );
    expect(shards).toHaveLength(2);
    for (const replicas of shards) expect(replicas).toHaveLength(2);
    expect(shards.flat().sort()).toEqual(nodes);
    expect(body).toContain('<internal_replication>true</internal_replication>');

    const seen = new Set<string>();
    for (const node of nodes) {
      const files = mounts(node);
      for (const f of files) expect(existsSync(f.host), f.host).toBe(true);
      const macroFile = files.find((f) => f.container.endsWith('macros.xml'));
      const macros = xml(macroFile!.host);
      const shard = /<shard>([^<]+)<\/shard>/.exec(macros)?.[1];
      const replica = /<replica>([^<]+)<\/replica>/.exec(macros)?.[1];
      // The shard macro is the node's shard position; the replica macro is unique in the shard.
      const position = shards.findIndex((s) => s.includes(node)) + 1;
      expect(Number(shard), node).toBe(position);
      expect(replica, node).toBe(node);
      seen.add(`${shard}/${replica}`);
      expect(files.map((f) => f.container)).toEqual(
        expect.arrayContaining([
          '/etc/clickhouse-server/config.d/opsight-cluster.xml',
          '/etc/clickhouse-server/users.d/opsight.xml',
        ]),
      );
    }
    expect(seen.size).toBe(4);
  });

  it('makes inserts through Distributed tables synchronous for the opsight user', () => {
    const users = xml(join(deployDir, 'clickhouse/users.d/opsight.xml'));
    const profile = /<profiles>[\s\S]*?<opsight>([\s\S]*?)<\/opsight>/.exec(users)?.[1] ?? '';
    expect(profile).toContain('<distributed_foreground_insert>1</distributed_foreground_insert>');
    expect(profile).toContain('<async_insert>0</async_insert>');
    const user = /<users>[\s\S]*?<opsight>([\s\S]*?)<\/opsight>/.exec(users)?.[1] ?? '';
    expect(user).toContain('<password from_env="OPSIGHT_CLICKHOUSE_PASSWORD"/>');
    expect(env('clickhouse-s1r1').OPSIGHT_CLICKHOUSE_PASSWORD).toMatch(/^\$\{OPSIGHT_CLICKHOUSE_PASSWORD:\?/);
  });

  it('gives Grafana the ClickHouse plugin and the provisioning directory of the repository', () => {
    const g = services.grafana!;
    expect(g.image).toMatch(/^grafana\/grafana:1[12]\./);
    expect(env('grafana').GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource');
    const provisioning = mounts('grafana').find((m) => m.container === '/etc/grafana/provisioning');
    expect(provisioning?.host).toBe(resolve('dashboards/provisioning'));
    expect(statSync(provisioning!.host).isDirectory()).toBe(true);
    expect(reachable.has(env('grafana').OPSIGHT_CLICKHOUSE_HOST!)).toBe(true);
    // Every variable the provisioning files read from Grafana's environment is set.
    const files = readdirSync(provisioning!.host, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile() && /\.ya?ml$/.test(f.name))
      .map((f) => join(f.parentPath, f.name));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const wanted = new Set(
      files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!)),
    );
    expect(wanted.size).toBeGreaterThan(0);
    for (const v of wanted) expect(Object.keys(env('grafana')), v).toContain(v);
    // The dashboards provider's path is where the dashboards are mounted.
    const dashboards = mounts('grafana').find((m) => m.host === resolve('dashboards'));
    expect(dashboards?.container).toBe(env('grafana').OPSIGHT_DASHBOARDS_DIR);
    // Every named volume a service uses is declared.
    for (const n of names)
      for (const v of services[n]!.volumes ?? [])
        if (!v.startsWith('.')) expect(Object.keys(compose.volumes), `${n}: ${v}`).toContain(v.split(':')[0]);
  });

  it('has a deploy/.env.example with every variable compose.yaml requires', () => {
    const text = readFileSync(composeFile, 'utf8');
    const required = new Set([...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!));
    const example = readFileSync(join(dirname(composeFile), '.env.example'), 'utf8');
    for (const v of required) expect(example, v).toMatch(new RegExp(`^${v}=`, 'm'));
  });
});
