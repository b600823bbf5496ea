import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../core/config/load.ts';
import { configSchema } from '../../core/config/schema.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { startIngestRole } from '../../ingest/role.ts';
import { testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';
import { freePort } from '../../core/net.ts';

/**
 * The scrape source end to end: opsight's ingest role (startRuntime) scraping a real prom-client
 * endpoint (negotiating OpenMetrics), a real prometheus-node-exporter, a dead target, a target
 * that never answers, and file_sd targets, into the OTel tables of a ClickHouse database of its own.
 */

const dir = mkdtempSync(join(tmpdir(), 'opsight-scrape-'));
let db: TestDatabase;
let runtime: Runtime | undefined;
let prom: Server;
let slow: Server;
let nodeExporter: ChildProcess;
let promTarget: string;
let nodeTarget: string;
let deadTarget: string;
let slowTarget: string;
let broken: Server;
let brokenTarget: string;
const served: string[] = [];
const slowRequests: IncomingMessage[] = [];

const listen = (s: Server) =>
  new Promise<string>((r) =>
    s.listen(0, '127.0.0.1', () => r(`127.0.0.1:${(s.address() as AddressInfo).port}`)),
  );

/** A prom-client app: one registry per format, the same four metrics in both. */
function promClientServer(): Server {
  const text = new client.Registry();
  const om = new client.Registry<typeof client.Registry.OPENMETRICS_CONTENT_TYPE>();
  om.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [text, om];
  for (const r of registers) r.setDefaultLabels({ job: 'app' });
  const counter = new client.Counter({
    name: 'test_requests_total',
    help: 'Requests.',
    labelNames: ['route'],
    registers,
  });
  counter.inc({ route: '/a' }, 3);
  counter.inc({ route: '/b' });
  new client.Gauge({ name: 'test_temperature_celsius', help: 'Temperature.', registers }).set(21.5);
  const hist = new client.Histogram({
    name: 'test_latency_seconds',
    help: 'Latency.',
    buckets: [0.1, 0.5, 1],
    registers,
  });
  for (const v of [0.05, 0.3, 0.7, 2]) hist.observe(v);
  const summary = new client.Summary({
    name: 'test_rpc_seconds',
    help: 'RPC.',
    percentiles: [0.5, 0.9],
    registers,
  });
  for (let i = 1; i <= 10; i++) summary.observe(i);
  return createServer((req, res) => {
    const reg = req.headers.accept?.includes('application/openmetrics-text') ? om : text;
    served.push(reg.contentType);
    void reg.metrics().then((body) => res.writeHead(200, { 'content-type': reg.contentType }).end(body));
  });
}

/** Text format with two unparseable lines (3 and 5) between good samples. */
const BROKEN_BODY = [
  '# TYPE good_gauge gauge',
  'good_gauge 1',
  'this line is not a sample',
  'good_gauge{a="b"} 2',
  'bad_value{x="y"} abc',
  '',
].join('\n');

function job(name: string, target: string, extra: Record<string, unknown> = {}) {
  return { job_name: name, scrape_interval: '1s', static_configs: [{ targets: [target] }], ...extra };
}

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'scrape');
  prom = promClientServer();
  promTarget = await listen(prom);
  slow = createServer((req) => void slowRequests.push(req)); // never answers
  slowTarget = await listen(slow);
  broken = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(BROKEN_BODY));
  brokenTarget = await listen(broken);
  deadTarget = `127.0.0.1:${await freePort()}`;
  const nodePort = await freePort();
  nodeTarget = `127.0.0.1:${nodePort}`;
  nodeExporter = spawn(
    'prometheus-node-exporter',
    [
      `--web.listen-address=${nodeTarget}`,
      '--collector.disable-defaults',
      '--collector.cpu',
      '--collector.meminfo',
    ],
    { stdio: 'ignore' },
  );
  await waitFor(
    async () => (await fetch(`http://${nodeTarget}/metrics`).catch(() => undefined))?.ok === true,
    'node exporter',
  );
  writeFileSync(join(dir, 'targets.json'), '[]');

  const config = configSchema.parse({
    clickhouse: { url: inject('clickhouseUrl'), database: db.database },
    http: { addr: '127.0.0.1:0' },
    log: { level: 'silent' },
    writer: { maxAgeMs: 200 },
    ingest: {
      scrape: {
        jobs: [
          job('promclient', promTarget, {
            static_configs: [{ targets: [promTarget], labels: { env: 'test' } }],
          }),
          job('node', nodeTarget),
          job('dead', deadTarget, { scrape_interval: '2s' }),
          job('slow', slowTarget, { scrape_interval: '1m', scrape_timeout: '1m' }),
          job('broken', brokenTarget, { scrape_interval: '2s' }),
          { job_name: 'filesd', scrape_interval: '1s', file_sd_configs: [{ files: [join(dir, '*.json')] }] },
        ],
      },
    },
  });
  runtime = await startRuntime(config, { ingest: startIngestRole }, ['ingest']);
});

afterAll(async () => {
  await runtime?.stop();
  nodeExporter?.kill();
  prom?.close();
  slow?.closeAllConnections();
  slow?.close();
  broken?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const q = (s: string) => `'${s.replace(/'/g, "\\'")}'`;

/**
 * The first row of a query, once there is one: each bus partition is written on its own, so the
 * series of one scrape reach ClickHouse in separate inserts.
 */
async function first<T>(query: string): Promise<T> {
  let row: T | undefined;
  await waitFor(async () => (row = (await db.rows<T>(query))[0]) !== undefined, query);
  return row!;
}

/** The newest value of a series (Count for histograms), waiting for it to exist. */
async function latest(table: string, service: string, metric: string, where = '1'): Promise<number> {
  const col = table === 'otel_metrics_histogram' ? 'Count' : 'Value';
  const row = await first<{ v: number }>(
    `SELECT ${col} AS v FROM ${table} WHERE ServiceName = ${q(service)} AND MetricName = ${q(metric)} AND ${where}
     ORDER BY TimeUnix DESC LIMIT 1`,
  );
  return row.v;
}

async function sources(): Promise<
  {
    name: string;
    rejected: number;
    lastError?: { message: string };
    targets: { health: string; instance: string; labels: Record<string, string> }[];
  }[]
> {
  const res = await fetch(`http://${runtime!.httpAddress}/api/v1/sources`);
  return ((await res.json()) as { sources: never[] }).sources;
}

describe('Prometheus scrape', () => {
  it('scrapes a prom-client endpoint over OpenMetrics into the sum, gauge and histogram tables', async () => {
    // The writer inserts table by table: wait for each.
    await waitFor(
      async () => (await latest('otel_metrics_histogram', 'promclient', 'test_latency_seconds')) === 4,
      'histogram rows',
    );
    await waitFor(
      async () => (await latest('otel_metrics_sum', 'promclient', 'test_rpc_seconds_count')) === 10,
      'sum rows',
    );
    await waitFor(async () => (await latest('otel_metrics_gauge', 'promclient', 'up')) === 1, 'gauge rows');
    expect(served).toContain(client.Registry.OPENMETRICS_CONTENT_TYPE);

    const counter = await first<Record<string, unknown>>(
      `SELECT Value, IsMonotonic, AggregationTemporality, Attributes, ResourceAttributes, MetricDescription
       FROM otel_metrics_sum WHERE ServiceName = 'promclient' AND MetricName = 'test_requests_total'
       AND Attributes['route'] = '/a' ORDER BY TimeUnix DESC LIMIT 1`,
    );
    expect(counter).toEqual({
      Value: 3,
      IsMonotonic: true,
      AggregationTemporality: 2,
      // The scraped job moves aside (honor_labels false); target labels join every series.
      Attributes: { env: 'test', exported_job: 'app', instance: promTarget, job: 'promclient', route: '/a' },
      ResourceAttributes: { env: 'test', 'service.instance.id': promTarget, 'service.name': 'promclient' },
      MetricDescription: 'Requests.',
    });
    expect(await latest('otel_metrics_gauge', 'promclient', 'test_temperature_celsius')).toBe(21.5);

    const hist = await first<Record<string, unknown>>(
      `SELECT Count, Sum, ExplicitBounds, BucketCounts, AggregationTemporality FROM otel_metrics_histogram
       WHERE ServiceName = 'promclient' AND MetricName = 'test_latency_seconds' ORDER BY TimeUnix DESC LIMIT 1`,
    );
    expect(hist).toEqual({
      Count: 4,
      Sum: 3.05,
      ExplicitBounds: [0.1, 0.5, 1],
      BucketCounts: [1, 1, 1, 1],
      AggregationTemporality: 2,
    });

    // Summary: quantiles as gauges with their quantile label, _sum and _count as sums.
    const p90 = await latest(
      'otel_metrics_gauge',
      'promclient',
      'test_rpc_seconds',
      `Attributes['quantile'] = '0.9'`,
    );
    expect(p90).toBeGreaterThanOrEqual(9);
    expect(p90).toBeLessThanOrEqual(10);
    expect(await latest('otel_metrics_sum', 'promclient', 'test_rpc_seconds_sum')).toBe(55);
    expect(await latest('otel_metrics_sum', 'promclient', 'test_rpc_seconds_count')).toBe(10);

    expect(await latest('otel_metrics_gauge', 'promclient', 'up')).toBe(1);
    expect(await latest('otel_metrics_gauge', 'promclient', 'scrape_samples_scraped')).toBe(13);
    expect(await latest('otel_metrics_gauge', 'promclient', 'scrape_duration_seconds')).toBeGreaterThan(0);
    const state = (await sources()).find((s) => s.name === 'scrape/promclient')!;
    expect(state.rejected).toBe(0);
    expect(state.targets).toMatchObject([{ health: 'up', instance: promTarget }]);
  });

  it('scrapes a real prometheus-node-exporter', async () => {
    await waitFor(async () => (await latest('otel_metrics_gauge', 'node', 'up')) === 1, 'node exporter up=1');
    await waitFor(
      async () => ((await latest('otel_metrics_gauge', 'node', 'node_memory_MemTotal_bytes')) ?? 0) > 0,
      'node_memory_MemTotal_bytes',
    );
    // The writer inserts table by table: the sum rows may land after the gauge rows.
    const cpu = () =>
      db.scalar(
        `SELECT count() FROM otel_metrics_sum WHERE ServiceName = 'node' AND MetricName = 'node_cpu_seconds_total'
         AND Attributes['mode'] = 'idle' AND IsMonotonic AND Attributes['instance'] = ${q(nodeTarget)}`,
      );
    await waitFor(async () => (await cpu()) > 0, 'node_cpu_seconds_total');
    // node_exporter's own Go runtime summary.
    await waitFor(
      async () => (await latest('otel_metrics_sum', 'node', 'go_gc_duration_seconds_count')) !== undefined,
      'go_gc_duration_seconds_count',
    );
    await waitFor(
      async () =>
        (await latest(
          'otel_metrics_gauge',
          'node',
          'go_gc_duration_seconds',
          `Attributes['quantile'] = '1'`,
        )) !== undefined,
      'go_gc_duration_seconds quantiles',
    );
    expect((await sources()).find((s) => s.name === 'scrape/node')!.rejected).toBe(0);
  });

  it('marks a dead target up=0 with the reason, without stopping the others', async () => {
    await waitFor(async () => (await latest('otel_metrics_gauge', 'dead', 'up')) === 0, 'dead target up=0');
    const state = (await sources()).find((s) => s.name === 'scrape/dead')!;
    expect(state.targets[0]!.health).toBe('down');
    // Refused at once normally; on a loaded machine the timeout may come first. Either way, the reason.
    expect(state.lastError!.message).toMatch(/ECONNREFUSED|timed out after 2000 ms/);
    // The others keep being scraped.
    const before = await db.scalar(
      `SELECT count() FROM otel_metrics_gauge WHERE ServiceName = 'promclient' AND MetricName = 'up'`,
    );
    await waitFor(
      async () =>
        (await db.scalar(
          `SELECT count() FROM otel_metrics_gauge WHERE ServiceName = 'promclient' AND MetricName = 'up'`,
        )) > before,
      'more promclient scrapes',
    );
  });

  it('picks up file_sd targets when the file changes, and drops them when removed', async () => {
    writeFileSync(
      join(dir, 'targets.json'),
      JSON.stringify([{ targets: [promTarget], labels: { team: 'payments', __meta_hidden: 'x' } }]),
    );
    writeFileSync(join(dir, 'broken.json'), '[{"targets": ');
    await waitFor(
      async () =>
        (await latest('otel_metrics_gauge', 'filesd', 'up', `Attributes['team'] = 'payments'`)) === 1,
      'file_sd target scraped',
    );
    const row = await first<{ a: Record<string, string> }>(
      `SELECT Attributes AS a FROM otel_metrics_gauge WHERE ServiceName = 'filesd' AND MetricName = 'up' LIMIT 1`,
    );
    expect(row.a).toEqual({ instance: promTarget, job: 'filesd', team: 'payments' });
    const state = (await sources()).find((s) => s.name === 'scrape/filesd')!;
    expect(state.lastError!.message).toContain('broken.json');

    writeFileSync(join(dir, 'targets.json'), '[]');
    await waitFor(
      async () => (await sources()).find((s) => s.name === 'scrape/filesd')!.targets.length === 0,
      'target removed',
    );
  });

  it('dead-letters each unparseable line with the target URL and line number, keeping the good series', async () => {
    await waitFor(
      async () => (await latest('otel_metrics_gauge', 'broken', 'good_gauge', `Attributes['a'] = 'b'`)) === 2,
      'good series of the broken target',
    );
    expect(
      await latest('otel_metrics_gauge', 'broken', 'good_gauge', `NOT mapContains(Attributes, 'a')`),
    ).toBe(1);
    const url = `http://${brokenTarget}/metrics`;
    const letters = () =>
      db.rows<Record<string, unknown>>(
        `SELECT topic, offset, key, source, reason, payload FROM dead_letters WHERE source = 'scrape/broken'
         ORDER BY received_at, offset`,
      );
    await waitFor(async () => new Set((await letters()).map((l) => l.offset)).size === 2, 'two dead lines');
    const rows = await letters();
    const line3 = rows.find((r) => r.offset === 3)!;
    const line5 = rows.find((r) => r.offset === 5)!;
    expect(line3).toMatchObject({
      topic: 'opsight.metrics',
      key: url,
      payload: 'this line is not a sample',
    });
    expect(line3.reason).toMatch(new RegExp(`^${url.replace(/[.?]/g, '\\$&')}:3: \\S`));
    expect(line5).toMatchObject({ key: url, payload: 'bad_value{x="y"} abc' });
    expect(line5.reason).toContain(`${url}:5: `);
    // Only the bad lines: one letter per bad line per scrape.
    expect(rows.every((r) => r.offset === 3 || r.offset === 5)).toBe(true);
    const state = (await sources()).find((s) => s.name === 'scrape/broken')!;
    expect(state.targets[0]!.health).toBe('up');
    expect(state.rejected).toBeGreaterThanOrEqual(2);
  });

  it('stopping cancels a scrape in flight', async () => {
    await waitFor(() => slowRequests.length > 0, 'the slow target asked');
    const closed = new Promise<void>((r) => slowRequests[0]!.socket.once('close', () => r()));
    await runtime!.stop();
    runtime = undefined;
    await closed;
    expect(slowRequests[0]!.socket.destroyed).toBe(true);
  });
});

describe('ingest.scrape config', () => {
  const check = (yaml: string) => {
    const cwd = mkdtempSync(join(tmpdir(), 'opsight-scrape-cfg-'));
    writeFileSync(join(cwd, 'opsight.yaml'), yaml);
    try {
      return loadConfig({ cwd, env: {} });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  };

  it('fills Prometheus defaults', () => {
    const { config } = check('ingest:\n  scrape:\n    jobs:\n      - job_name: a\n');
    expect(config.ingest.scrape.jobs[0]).toMatchObject({
      scrape_interval: '1m',
      metrics_path: '/metrics',
      scheme: 'http',
      honor_labels: false,
      static_configs: [],
    });
  });

  it('names the key, the value and the expectation', () => {
    const bad: [string, string, string][] = [
      [
        'scrape_interval: soon',
        'ingest.scrape.jobs.0.scrape_interval = "soon"',
        'a positive duration such as 15s',
      ],
      [
        'scrape_timeout: 2m',
        'ingest.scrape.jobs.0.scrape_timeout = "2m"',
        'no longer than scrape_interval (1m)',
      ],
      [
        'static_configs: [{targets: [nohost]}]',
        'ingest.scrape.jobs.0.static_configs.0.targets.0 = "nohost"',
        'host:port',
      ],
      [
        'file_sd_configs: [{files: ["*/x.json"]}]',
        'ingest.scrape.jobs.0.file_sd_configs.0.files.0',
        'last path segment',
      ],
      ['relabel_configs: []', 'ingest.scrape.jobs.0: unknown key relabel_configs', 'relabel_configs'],
    ];
    for (const [line, key, expected] of bad) {
      expect(() => check(`ingest:\n  scrape:\n    jobs:\n      - job_name: a\n        ${line}\n`)).toThrow(
        expect.objectContaining({ message: expect.stringContaining(key) }),
      );
      expect(() => check(`ingest:\n  scrape:\n    jobs:\n      - job_name: a\n        ${line}\n`)).toThrow(
        expected,
      );
    }
    expect(() => check('ingest:\n  scrape:\n    jobs: [{job_name: a}, {job_name: a}]\n')).toThrow(
      'ingest.scrape.jobs.1.job_name = "a"',
    );
  });
});
