/**
 * What an insert costs ClickHouse by its size: the same rows of `otel_metrics_gauge` (10k series,
 * the shape bench/ingest's remote_write sends) inserted as Native in chunks of N rows, with the
 * embedded server's CPU time per row for the inserts alone and with the merges they cause
 * (measured until no merge runs). Baseline, in the same run: all rows in one insert.
 *
 *   npx tsx bench/clickhouse-insert-size.ts [--rows 200000] [--sizes 200000,50000,10000,2000]
 *
 * Why it matters: the writer makes one insert per bus partition and batch, so partitions and
 * batch limits decide the server's CPU per row (see README "Benchmarks").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { startEmbedded } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { replaceRootLogger } from '../core/log.ts';
import { minusMicros, processCpuMicros } from './support/process-cpu.ts';

replaceRootLogger(pino({ level: 'warn' }, pino.destination(2)));

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    sizes: { type: 'string', default: '200000,50000,10000,2000' },
  },
});
const rows = Number(values.rows);
const sizes = values.sizes.split(',').map(Number);

async function text(c: ClickHouseClient, query: string): Promise<string> {
  return (await (await c.query({ query, format: 'TabSeparated' })).text()).trim();
}

async function settle(c: ClickHouseClient): Promise<void> {
  while ((await text(c, 'SELECT count() FROM system.merges')) !== '0')
    await new Promise((r) => setTimeout(r, 200));
}

async function chunksOf(c: ClickHouseClient, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let offset = 0; offset < rows; offset += size) {
    const rs = await c.exec({
      query: `SELECT * FROM src ORDER BY TimeUnix, MetricName LIMIT ${size} OFFSET ${offset} FORMAT Native`,
    });
    const parts: Buffer[] = [];
    for await (const b of rs.stream) parts.push(b as Buffer);
    out.push(Buffer.concat(parts));
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-insert-size-'));
const server = await startEmbedded({ dataDir: dir });
const c = createClient({ url: server.url, database: 'bench' });
try {
  const admin = createClient({ url: server.url });
  await migrate(admin, {
    database: 'bench',
    ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
  });
  await admin.close();
  await c.command({ query: 'CREATE TABLE src AS otel_metrics_gauge ENGINE = Memory' });
  await c.command({
    query: `INSERT INTO src (ResourceAttributes, ServiceName, MetricName, Attributes, TimeUnix, Value)
      SELECT map('service.instance.id', 'host-' || toString(s % 200) || ':9100', 'service.name', 'job-' || toString(s % 5)),
        'job-' || toString(s % 5), 'node_metric_' || toString(s % 50),
        map('cpu', toString(s % 16), 'mode', ['idle', 'user', 'system', 'iowait'][s % 4 + 1]),
        toDateTime64(now() - 3600 + intDiv(number, 10000), 9), number * 0.25
      FROM (SELECT number, number % 10000 AS s FROM numbers(${rows}))`,
  });
  const results: { size: number; inserts: number; insertUs: number; allUs: number; rowsPerSec: number }[] =
    [];
  for (const size of sizes) {
    await c.command({ query: 'TRUNCATE TABLE otel_metrics_gauge' });
    await settle(c);
    const data = await chunksOf(c, size);
    const cpu0 = processCpuMicros(server.pid);
    const t0 = performance.now();
    let k = 0;
    for (const body of data) {
      const r = await c.exec({
        query: 'INSERT INTO otel_metrics_gauge FORMAT Native',
        values: Readable.from([body]),
        // As the writer inserts: synchronous, deduplicated by a token.
        clickhouse_settings: {
          async_insert: 0,
          insert_deduplicate: 1,
          insert_deduplication_token: `${size}:${k++}`,
        },
      });
      for await (const _ of r.stream) {
        // drain
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const insertUs = minusMicros(processCpuMicros(server.pid), cpu0) ?? NaN;
    // Merges start after the inserts: give them a moment to begin, then wait for the last.
    await new Promise((r) => setTimeout(r, 1500));
    await settle(c);
    const allUs = minusMicros(processCpuMicros(server.pid), cpu0) ?? NaN;
    results.push({ size, inserts: data.length, insertUs, allUs, rowsPerSec: rows / seconds });
  }
  const base = results.find((r) => r.size >= rows) ?? results[0]!;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`\nClickHouse CPU per row of otel_metrics_gauge inserts by insert size (${fmt(rows)} rows)\n`);
  console.log(
    '| rows per insert | inserts | µs/row, inserts | µs/row, with merges | x one insert | insert rows/s |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${fmt(r.size)} | ${r.inserts} | ${(r.insertUs / rows).toFixed(2)} | ${(r.allUs / rows).toFixed(2)} | ${(r.allUs / base.allUs).toFixed(2)} | ${fmt(r.rowsPerSec)} |`,
    );
  }
} finally {
  await c.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
