/**
 * Log lines/s end to end into ClickHouse's otel_logs with the in-process bus: JSON lines over
 * HTTP (POST /api/v1/logs/jsonl, 10k-line bodies, 2 in flight) and syslog RFC 5424 over TCP
 * (octet counting, one connection), each timed from the first byte sent until the writer has
 * committed every line. Peak RSS is the process's (client, opsight and writer together).
 *
 *   npx tsx bench/ingest-logs.ts [--lines 500000]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { MemoryBus } from '../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { configSchema } from '../core/config/schema.ts';
import { createHttpApp } from '../core/http/app.ts';
import { replaceRootLogger } from '../core/log.ts';
import { JsonlSource } from '../ingest/logs/jsonl.ts';
import { SyslogSource } from '../ingest/logs/syslog.ts';
import { startWriter, WriterCounters } from '../ingest/writer/index.ts';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '500000' } } });
const N = Number(values.lines);
const log = pino({ level: 'silent' });
replaceRootLogger(log);

const SERVICES = Array.from({ length: 20 }, (_, i) => `service-${i}`);
const jsonLine = (i: number) =>
  JSON.stringify({
    '@timestamp': new Date(1_790_000_000_000 + i).toISOString(),
    level: i % 10 === 0 ? 'error' : 'info',
    message: `GET /api/v1/items/${i % 1000} answered 200 in ${i % 97} ms`,
    service: { name: SERVICES[i % 20] },
    host: { name: `host-${i % 50}` },
    http: { method: 'GET', status_code: 200 },
    trace_id: '5b8efff798038103d269b633813fc60c',
  });
const syslogFrame = (i: number) => {
  const msg = `<134>1 2026-11-23T04:40:00.${String(i % 1_000_000).padStart(6, '0')}Z host-${i % 50} ${SERVICES[i % 20]} ${1000 + (i % 50)} ID47 [meta@32473 seq="${i}"] GET /api/v1/items/${i % 1000} answered 200`;
  return `${Buffer.byteLength(msg)} ${msg}`;
};

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

async function main() {
  let embedded: EmbeddedClickHouse | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-logs-'));
  let url = process.env.CLICKHOUSE_URL;
  if (!url) {
    embedded = await startEmbedded({ dataDir: dir });
    url = embedded.url;
  }
  const database = `bench_logs_${Date.now().toString(36)}`;
  const admin = createClient({ url });
  await migrate(admin, {
    database,
    ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
  });
  const client = createClient({ url, database });
  const config = configSchema.parse({
    http: { addr: '127.0.0.1:0', bodyLimit: '64mb' },
    ingest: { syslog: { enabled: true, tcpPort: 0, udpPort: null } },
  });
  const bus = new MemoryBus();
  const http = createHttpApp({ config });
  const jsonl = new JsonlSource(config.ingest.jsonl);
  const syslog = new SyslogSource(config.ingest.syslog);
  const ctx = { config, bus, http, clickhouse: client, log };
  await jsonl.start(ctx);
  await syslog.start(ctx);
  const server = await http.listen();
  const counters = new WriterCounters();
  const writer = await startWriter({
    bus,
    clickhouse: client,
    database,
    config: config.writer,
    events: counters,
    log,
  });

  const until = async (target: number) => {
    while (counters.committedMessages < target) await new Promise((r) => setTimeout(r, 20));
  };
  const results: string[] = [];

  // JSON lines over HTTP
  const BODY = 10_000;
  const bodies: string[] = [];
  for (let i = 0; i < N; i += BODY)
    bodies.push(Array.from({ length: Math.min(BODY, N - i) }, (_, j) => jsonLine(i + j)).join('\n'));
  let t0 = performance.now();
  let next = 0;
  const post = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await fetch(`http://${server.address}/api/v1/logs/jsonl`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      });
      if (res.status !== 202) throw new Error(`jsonl answered ${res.status}: ${await res.text()}`);
    }
  };
  await Promise.all([post(), post()]);
  const accepted = (performance.now() - t0) / 1000;
  await until(N);
  let s = (performance.now() - t0) / 1000;
  results.push(
    `jsonl over HTTP: ${N} lines in ${s.toFixed(2)} s = ${Math.round(N / s)} lines/s end to end ` +
      `(all accepted onto the bus after ${accepted.toFixed(2)} s = ${Math.round(N / accepted)} lines/s)`,
  );
  bodies.length = 0;

  // syslog RFC 5424 over TCP, octet counting
  const socket = connect(syslog.ports().tcp!, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  t0 = performance.now();
  for (let i = 0; i < N; i += 5000) {
    const chunk = Array.from({ length: Math.min(5000, N - i) }, (_, j) => syslogFrame(i + j)).join('');
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  socket.end();
  while (syslog.state().accepted < N) await new Promise((r) => setTimeout(r, 20));
  const published = (performance.now() - t0) / 1000;
  await until(2 * N);
  s = (performance.now() - t0) / 1000;
  results.push(
    `syslog RFC 5424 over TCP: ${N} lines in ${s.toFixed(2)} s = ${Math.round(N / s)} lines/s end to end ` +
      `(all on the bus after ${published.toFixed(2)} s = ${Math.round(N / published)} lines/s)`,
  );

  const rows = await client.query({ query: 'SELECT count() AS c FROM otel_logs', format: 'JSONEachRow' });
  const [{ c }] = (await rows.json()) as [{ c: string }];
  results.push(
    `otel_logs rows: ${c} (expected ${2 * N}); peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`,
  );

  // Baseline: ClickHouse's own bulk insert of the same rows (JSONEachRow over HTTP) into a copy.
  const dump = await (await client.query({ query: 'SELECT * FROM otel_logs', format: 'JSONEachRow' })).text();
  await client.command({ query: 'CREATE TABLE otel_logs_bulk AS otel_logs' });
  t0 = performance.now();
  const res = await fetch(
    `${url}/?database=${database}&query=${encodeURIComponent('INSERT INTO otel_logs_bulk FORMAT JSONEachRow')}`,
    {
      method: 'POST',
      body: dump,
    },
  );
  if (!res.ok) throw new Error(`bulk insert: ${res.status} ${await res.text()}`);
  s = (performance.now() - t0) / 1000;
  results.push(
    `ClickHouse bulk insert of the same ${c} rows (JSONEachRow): ${s.toFixed(2)} s = ${Math.round(Number(c) / s)} rows/s`,
  );
  for (const r of results) console.log(r);

  await syslog.stop();
  await server.close();
  await writer.stop();
  await bus.close();
  await admin.command({ query: `DROP DATABASE ${database}` });
  await admin.close();
  await client.close();
  await embedded?.stop();
  rmSync(dir, { recursive: true, force: true });
}

await main();
