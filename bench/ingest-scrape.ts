/**
 * Prometheus scrape throughput: the exposition parser alone (samples/s), parser + mapping to
 * MetricPoints, and end to end (HTTP scrape -> parse -> in-process bus -> writer -> ClickHouse),
 * on a large exposition made of real node_exporter output repeated with a `copy` label.
 *
 *   npx tsx bench/ingest-scrape.ts [--copies 50] [--scrapes 4]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory. The node_exporter
 * output comes from a running `prometheus-node-exporter` (started here), else a built-in sample.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { MemoryBus } from '../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { configSchema } from '../core/config/schema.ts';
import { parseExposition } from '../ingest/metrics/exposition.ts';
import { familiesToPoints } from '../ingest/metrics/prom-points.ts';
import { ScrapeTarget } from '../ingest/metrics/scrape-target.ts';
import { SourceStats } from '../ingest/source.ts';
import { WriterCounters, startWriter } from '../ingest/writer/index.ts';
import { freePort } from '../core/net.ts';

const { values: args } = parseArgs({
  options: { copies: { type: 'string', default: '50' }, scrapes: { type: 'string', default: '4' } },
});
const COPIES = Number(args.copies);
const SCRAPES = Number(args.scrapes);
const quiet = pino({ level: 'silent' });

const FALLBACK = `# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 3.48e+06
node_cpu_seconds_total{cpu="0",mode="user"} 12345.67
# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8.253874176e+09
# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.3e-05
go_gc_duration_seconds{quantile="1"} 0.00082
go_gc_duration_seconds_sum 0.0123
go_gc_duration_seconds_count 211
`;

async function nodeExporterOutput(): Promise<{ text: string; from: string }> {
  const port = await freePort();
  const child = spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${port}`], {
    stdio: 'ignore',
  });
  const failed = new Promise<undefined>((r) => child.once('error', () => r(undefined)));
  try {
    for (let i = 0; i < 50; i++) {
      const res = await Promise.race([
        fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined),
        failed,
      ]);
      if (res?.ok)
        return { text: await res.text(), from: 'prometheus-node-exporter (all default collectors)' };
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    child.kill();
  }
  return { text: FALLBACK, from: 'built-in sample (node_exporter not found)' };
}

/** The exposition `copies` times, each sample with an extra `copy` label: distinct series. */
function repeat(text: string, copies: number): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let c = 0; c < copies; c++) {
    for (const line of lines) {
      if (line === '' || line.startsWith('#')) {
        if (c === 0) out.push(line);
        continue;
      }
      const brace = line.indexOf('{');
      const space = line.indexOf(' ');
      out.push(
        brace >= 0 && brace < space
          ? `${line.slice(0, brace + 1)}copy="${c}",${line.slice(brace + 1)}`
          : `${line.slice(0, space)}{copy="${c}"}${line.slice(space)}`,
      );
    }
  }
  return out.join('\n');
}

const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function main(): Promise<void> {
  const { text: base, from } = await nodeExporterOutput();
  // HELP/TYPE once and all copies of a family together, as a real exposition groups them.
  const text = repeat(base, COPIES);
  const parsedOnce = parseExposition(text);
  const samples = parsedOnce.sampleLines;
  if (parsedOnce.errors.length) throw new Error(`bench input has errors: ${parsedOnce.errors[0]!.message}`);
  console.log(`input: ${from}, ${COPIES} copies: ${samples} samples, ${(text.length / 1e6).toFixed(1)} MB`);

  // parser alone and parser + mapping, best of 5 after a warm-up
  const ctx = {
    scrapeTimeMs: Date.now(),
    resource: { 'service.name': 'node', 'service.instance.id': 'h:9100' },
    targetLabels: { job: 'node', instance: 'h:9100' },
    honorLabels: false,
  };
  let parseBest = Infinity;
  let convBest = Infinity;
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const e = parseExposition(text);
    const t1 = performance.now();
    familiesToPoints(e.families, ctx);
    const t2 = performance.now();
    if (i === 0) continue;
    parseBest = Math.min(parseBest, t1 - t0);
    convBest = Math.min(convBest, t2 - t0);
  }
  console.log(
    `parser:            ${Math.round(samples / (parseBest / 1000)).toLocaleString('en')} samples/s`,
  );
  console.log(`parser + mapping:  ${Math.round(samples / (convBest / 1000)).toLocaleString('en')} samples/s`);

  // end to end
  let embedded: EmbeddedClickHouse | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-scrape-'));
  let url = process.env.CLICKHOUSE_URL;
  if (!url) {
    embedded = await startEmbedded({ dataDir: dir });
    url = embedded.url;
  }
  const database = `bench_scrape_${Date.now().toString(36)}`;
  const client = createClient({
    url,
    database,
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const http = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
  );
  try {
    await migrate(createClient({ url }), {
      database,
      ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const target = `127.0.0.1:${(http.address() as AddressInfo).port}`;
    const job = configSchema.parse({
      // A 10 s default timeout is too short for --copies 200 on a loaded machine: the scrape then
      // counts as failed, only `up 0` is published, and the wait below would never end.
      ingest: {
        scrape: {
          jobs: [{ job_name: 'bench', scrape_interval: '2m', scrape_timeout: '2m', static_configs: [] }],
        },
      },
    }).ingest.scrape.jobs[0]!;
    const bus = new MemoryBus({ defaultPartitions: 4 });
    const counters = new WriterCounters();
    const writer = await startWriter({
      bus,
      clickhouse: client,
      database,
      config: { maxRows: 100_000, maxBytes: 32 << 20, maxAgeMs: 500, retryMaxDelayMs: 10_000 },
      events: counters,
      log: quiet,
    });
    const stats = new SourceStats('scrape/bench', 'scrape');
    const scrape = new ScrapeTarget(job, target, {}, { bus, stats, log: quiet });
    const pointsPerScrape = familiesToPoints(parsedOnce.families, ctx).points.length + 4;
    const started = performance.now();
    for (let i = 0; i < SCRAPES; i++) {
      await scrape.scrapeOnce();
      const state = scrape.state();
      if (state.health !== 'up') throw new Error(`scrape ${i + 1} failed: ${state.lastError}`);
    }
    const scraped = performance.now();
    const expected = pointsPerScrape * SCRAPES;
    let last = -1;
    let stalledSince = performance.now();
    while (counters.committedMessages < expected) {
      await new Promise((r) => setTimeout(r, 10));
      if (counters.committedMessages !== last) {
        last = counters.committedMessages;
        stalledSince = performance.now();
      } else if (performance.now() - stalledSince > 120_000) {
        throw new Error(`writer committed ${last} of ${expected} messages and made no progress for 2 min`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await writer.stop();
    await bus.close();
    const rows = await client.query({
      query:
        'SELECT (SELECT count() FROM otel_metrics_gauge) + (SELECT count() FROM otel_metrics_sum) + (SELECT count() FROM otel_metrics_histogram) AS n',
      format: 'JSONEachRow',
    });
    const n = (await rows.json<{ n: number }>())[0]?.n;
    console.log(
      `end to end:        ${Math.round((samples * SCRAPES) / seconds).toLocaleString('en')} samples/s ` +
        `(${SCRAPES} scrapes of ${samples} samples in ${seconds.toFixed(2)} s, scrape+publish ${((scraped - started) / 1000).toFixed(2)} s; ` +
        `${n} rows = ${pointsPerScrape * SCRAPES} expected; rejected ${stats.rejected}; peak RSS ${rssMb()} MB)`,
    );
  } finally {
    http.close();
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await client.close();
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
