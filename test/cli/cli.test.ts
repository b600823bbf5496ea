import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const bin = join(process.cwd(), 'bin/opsight.js');
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'opsight-cli-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The environment without anything that would point opsight at other servers. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CLICKHOUSE_|KAFKA_|OPSIGHT_|OTEL_)/.test(k)) delete env[k];
  return { ...env, OPSIGHT_LOG_LEVEL: 'warn', ...extra };
}

function run(args: string[], env: Record<string, string> = {}, cwd = tmp()) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('opsight CLI', () => {
  it('prints its version and help', () => {
    expect(run(['version']).stdout).toMatch(/^opsight \d+\.\d+\.\d+\n$/);
    const help = run(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['start', 'migrate', 'clickhouse', 'config', 'version'])
      expect(help.stdout).toContain(cmd);
    expect(run(['start', '--help']).stdout).toContain('--role');
  });

  it('exits 2 on bad config, naming the key, value and expectation', () => {
    const r = run(['config', 'check'], { KAFKA_PARTITIONS: 'many' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('kafka.partitions = "many" (from KAFKA_PARTITIONS): expected number');

    const dir = tmp();
    writeFileSync(join(dir, 'opsight.yaml'), 'clickhouse:\n  ttlDays:\n    logs: -1\n');
    const file = run(['config', 'check'], {}, dir);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('clickhouse.ttlDays.logs = -1');

    const exposed = run(['config', 'check'], { OPSIGHT_HTTP_ADDR: '0.0.0.0:4318' });
    expect(exposed.code).toBe(2);
    expect(exposed.stderr).toContain('needs API tokens');
    expect(run(['start', '--role', 'nonsense']).code).not.toBe(0);
  });

  it('config check prints the effective config with secrets masked', () => {
    const r = run(['config', 'check'], {
      CLICKHOUSE_PASSWORD: 'hunter2hunter2',
      OPSIGHT_TOKENS: 'ci:abcdefabcdefabcdef12:ingest',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration is valid');
    expect(r.stdout).toContain('CLICKHOUSE_PASSWORD');
    expect(r.stdout).toContain('addr: 127.0.0.1:4318');
    expect(r.stdout).not.toContain('hunter2hunter2');
    expect(r.stdout).not.toContain('abcdefabcdefabcdef12');
  });

  it('migrate --print emits the cluster DDL when a cluster is configured', () => {
    const r = run(['migrate', '--print'], { CLICKHOUSE_CLUSTER: 'prod' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ON CLUSTER `prod`');
    expect(r.stdout).toContain('ReplicatedMergeTree');
    expect(r.stdout).toContain('Distributed(');
  });

  it('starts the whole pipeline on the embedded defaults, lands records, and stops cleanly', async () => {
    const dir = tmp();
    const data = join(dir, 'data');
    // A stand-in OTLP collector: opsight's own pipeline traces should reach it.
    const spans: string[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/v1/traces')
          spans.push(...[...body.matchAll(/"name":"([a-z]+)"/g)].map((m) => m[1]!));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const otlp = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const { ch, stop } = await startAndFeed(
      dir,
      { OPSIGHT_DATA_DIR: data, OTEL_EXPORTER_OTLP_ENDPOINT: otlp },
      'opsight',
    );
    // `opsight clickhouse` finds the running embedded server.
    expect(run(['clickhouse'], { OPSIGHT_DATA_DIR: data }, dir).stdout.trim()).toBe(ch);
    expect(await stop()).toBe(0);
    collector.close();
    expect(spans).toEqual(expect.arrayContaining(['receive', 'publish', 'write']));
    // The embedded server went with it.
    expect(run(['clickhouse'], { OPSIGHT_DATA_DIR: data }, dir).code).toBe(1);
    await expect(fetch(`${ch}/ping`)).rejects.toThrow();
  });

  it('runs the ingest role on Kafka and an external ClickHouse', async () => {
    const database = `opsight_cli_${Math.random().toString(36).slice(2, 8)}`;
    const { stop } = await startAndFeed(
      tmp(),
      {
        KAFKA_BROKERS: inject('kafkaBrokers'),
        CLICKHOUSE_URL: inject('clickhouseUrl'),
        CLICKHOUSE_DATABASE: database,
        KAFKA_PARTITIONS: '3',
      },
      database,
      ['--role', 'ingest'],
    );
    expect(await stop()).toBe(0);
    await fetch(`${inject('clickhouseUrl')}/?query=${encodeURIComponent(`DROP DATABASE ${database}`)}`, {
      method: 'POST',
    });
  });
});

/** Starts `opsight start`, posts 50 metric points and one invalid batch, waits for the rows. */
async function startAndFeed(dir: string, env: Record<string, string>, database: string, args: string[] = []) {
  const child = spawn(process.execPath, [bin, 'start', ...args], {
    cwd: dir,
    env: cleanEnv({ OPSIGHT_HTTP_ADDR: '127.0.0.1:0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const banner = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out);
    });
    child.once('exit', (code) => reject(new Error(`opsight exited ${code}: ${stderr}`)));
  });
  const http = /HTTP on (http:\/\/[\d.:]+)/.exec(banner)![1]!;
  const ch = /ClickHouse at (http:\/\/[\d.:]+)/.exec(banner)![1]!;

  expect((await fetch(`${http}/readyz`)).status).toBe(200);
  const now = BigInt(Date.now()) * 1_000_000n;
  const records = Array.from({ length: 50 }, (_, i) => ({
    name: 'cli_test_requests',
    type: 'gauge',
    resource: { 'service.name': 'checkout' },
    attributes: { instance: `i-${i % 5}` },
    timeUnixNano: String(now + BigInt(i) * 1_000_000n),
    value: i,
  }));
  const res = await fetch(`${http}/api/v1/records/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(records),
  });
  expect(res.status).toBe(202);
  const bad = await fetch(`${http}/api/v1/records/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ name: 'x', type: 'gauge', timeUnixNano: 'yesterday' }]),
  });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(await bad.json())).toContain('record 0: timeUnixNano');

  const sql = `SELECT count() FROM ${database}.otel_metrics_gauge WHERE MetricName = 'cli_test_requests' AND ServiceName = 'checkout'`;
  let count = '';
  for (let i = 0; i < 150 && count !== '50'; i++) {
    await new Promise((r) => setTimeout(r, 200));
    count = (await (await fetch(`${ch}/?query=${encodeURIComponent(sql)}`)).text()).trim();
  }
  expect(count).toBe('50');

  return {
    ch,
    http,
    stop: () => {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
