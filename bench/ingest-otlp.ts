/**
 * OTLP/HTTP ingest end to end: protobuf Export*ServiceRequests POSTed to the receiver, through
 * the in-process bus and the writer into ClickHouse, timed until the rows are counted there.
 * Prints metric points/s (gauges) and log records/s, with peak RSS of this process.
 *
 *   npx tsx bench/ingest-otlp.ts [--points 500000] [--logs 500000] [--batch 1000] [--concurrency 4]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory. The client side
 * (request encoding) is done before the clock starts, so the figure is opsight's cost alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { MemoryBus } from '../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { configSchema } from '../core/config/schema.ts';
import { createHttpApp } from '../core/http/app.ts';
import { replaceRootLogger } from '../core/log.ts';
import { OtlpReceiver } from '../ingest/otlp/receiver.ts';
import { startWriter } from '../ingest/writer/index.ts';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '500000' },
    logs: { type: 'string', default: '500000' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
  },
});
const POINTS = Number(values.points);
const LOGS = Number(values.logs);
const BATCH = Number(values.batch);
const CONCURRENCY = Number(values.concurrency);

const quiet = pino({ level: process.env.OPSIGHT_LOG_LEVEL ?? 'warn' }, pino.destination(2));
replaceRootLogger(quiet);

const root = protobuf.loadSync(fileURLToPath(new URL('../ingest/otlp/proto/otlp.proto', import.meta.url)));
const MetricsRequest = root.lookupType('opsight.otlp.ExportMetricsServiceRequest');
const LogsRequest = root.lookupType('opsight.otlp.ExportLogsServiceRequest');

const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
const resource = (svc: number) => ({
  attributes: [kv('service.name', `service-${svc}`), kv('host.name', `host-${svc % 50}.internal`)],
});
const BASE_NS = 1_790_000_000_000_000_000n;

/** One request of `n` gauge points from one service: 10 metrics x n/10 series. */
function metricsRequest(r: number, n: number): Uint8Array {
  const metrics = Array.from({ length: 10 }, (_, m) => ({
    name: `app.requests.${m}`,
    unit: '1',
    gauge: {
      dataPoints: Array.from({ length: n / 10 }, (_, i) => ({
        attributes: [
          kv('method', ['GET', 'POST'][i % 2]!),
          kv('path', `/api/v1/r/${i}`),
          kv('zone', `z${i % 3}`),
        ],
        timeUnixNano: String(BASE_NS + BigInt(r) * 1_000_000n),
        asDouble: r * 0.5 + i,
      })),
    },
  }));
  const body = {
    resourceMetrics: [{ resource: resource(r % 20), scopeMetrics: [{ scope: { name: 'bench' }, metrics }] }],
  };
  return MetricsRequest.encode(MetricsRequest.fromObject(body)).finish();
}

function logsRequest(r: number, n: number): Uint8Array {
  const logRecords = Array.from({ length: n }, (_, i) => ({
    timeUnixNano: String(BASE_NS + BigInt(r * n + i) * 1000n),
    severityNumber: 9,
    severityText: 'INFO',
    body: { stringValue: `request ${r}-${i} served in ${i % 97} ms for user ${i % 1013}` },
    attributes: [kv('http.route', `/api/v1/r/${i % 100}`), kv('http.status_code', '200')],
    traceId: Buffer.alloc(16, (r + i) % 255 || 1),
    spanId: Buffer.alloc(8, i % 255 || 1),
  }));
  const body = {
    resourceLogs: [{ resource: resource(r % 20), scopeLogs: [{ scope: { name: 'bench' }, logRecords }] }],
  };
  return LogsRequest.encode(LogsRequest.fromObject(body)).finish();
}

async function send(url: string, bodies: Uint8Array[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body,
        });
        if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
        await res.arrayBuffer();
      }
    }),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-otlp-'));
  let embedded: EmbeddedClickHouse | undefined;
  try {
    let url = process.env.CLICKHOUSE_URL;
    if (!url) {
      embedded = await startEmbedded({ dataDir: dir });
      url = embedded.url;
    }
    const database = `bench_otlp_${Date.now().toString(36)}`;
    const admin = createClient({ url });
    await migrate(admin, {
      database,
      ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
    });
    const client = createClient({ url, database });
    const config = configSchema.parse({ http: { addr: '127.0.0.1:0', bodyLimit: '64mb' } });
    const bus = new MemoryBus();
    const http = createHttpApp({ config });
    const receiver = new OtlpReceiver(config.ingest.otlp);
    await receiver.start({ config, bus, http, clickhouse: client, log: quiet });
    const writer = await startWriter({
      bus,
      clickhouse: client,
      database,
      config: config.writer,
      log: quiet,
    });
    const server = await http.listen();
    const base = `http://${server.address}`;

    const count = async (table: string) => {
      const rs = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' });
      return Number(((await rs.json()) as { n: string }[])[0]!.n);
    };
    const run = async (what: string, n: number, path: string, table: string, make: typeof metricsRequest) => {
      const bodies = Array.from({ length: Math.ceil(n / BATCH) }, (_, r) => make(r, BATCH));
      const bytes = bodies.reduce((a, b) => a + b.length, 0);
      const total = bodies.length * BATCH;
      const t = performance.now();
      await send(`${base}${path}`, bodies);
      const accepted = (performance.now() - t) / 1000;
      while ((await count(table)) < total) await new Promise((r) => setTimeout(r, 20));
      const s = (performance.now() - t) / 1000;
      console.log(
        `${what.padEnd(14)} ${total.toLocaleString('en-US')} in ${bodies.length} requests of ${BATCH} ` +
          `(${(bytes / bodies.length / 1024).toFixed(0)} KiB protobuf each): ` +
          `${Math.round(total / s).toLocaleString('en-US')}/s end to end into ClickHouse ` +
          `(${Math.round(total / accepted).toLocaleString('en-US')}/s answered 200), ${s.toFixed(2)} s`,
      );
    };
    console.log(`OTLP/HTTP -> in-process bus -> writer -> ClickHouse, ${CONCURRENCY} concurrent senders`);
    if (POINTS > 0) await run('metric points', POINTS, '/v1/metrics', 'otel_metrics_gauge', metricsRequest);
    if (LOGS > 0) await run('log records', LOGS, '/v1/logs', 'otel_logs', logsRequest);
    console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB (opsight and the senders)`);

    await receiver.stop();
    await server.close();
    await writer.stop();
    await bus.close();
    await admin.command({ query: `DROP DATABASE ${database}` });
    await client.close();
    await admin.close();
  } finally {
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
