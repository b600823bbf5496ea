/**
 * Writer throughput: metric points from the bus into ClickHouse's otel_metrics_gauge, through
 * the in-process bus and through Kafka, beside ClickHouse's own bulk insert of the same rows
 * (pre-encoded RowBinary POSTed by curl) in the same run. See bench/README.md.
 *
 *   npx tsx bench/writer.ts [--rows 2000000] [--partitions 4] [--phases bulk,memory,kafka]
 *                           [--max-rows 100000] [--max-age-ms 1000]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory. Kafka: KAFKA_BROKERS,
 * else a throwaway broker (test/support/kafka.ts). Each phase runs in a child process so its
 * peak RSS is its own; the ClickHouse server's peak (VmHWM) is reset between phases.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { KafkaBus } from '../core/bus/kafka.ts';
import { MemoryBus } from '../core/bus/memory.ts';
import { BusUnavailableError, type Bus, type OutgoingRecord } from '../core/bus/types.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { compileEncoder, describeTable, quoteIdent } from '../core/clickhouse/rowbinary.ts';
import { replaceRootLogger } from '../core/log.ts';
import type { MetricPoint } from '../core/model/records.ts';
import { metricsMapping } from '../ingest/writer/map-metrics.ts';
import { WriterCounters, startWriter } from '../ingest/writer/index.ts';
import { startKafka, type KafkaBroker } from '../test/support/kafka.ts';

const TABLE = 'otel_metrics_gauge';
const self = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// the rows: 10k series of ~4 labels, 50 metric names, one point per row, nanosecond timestamps

const pool = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const NAMES = pool(50, (i) => `app_requests_${i}_total`);
const SERVICES = pool(20, (i) => `service-${i}`);
const HOSTS = pool(200, (i) => `host-${i}.eu-west-1.internal`);
const METHODS = ['DELETE', 'GET', 'POST', 'PUT'];
const PATHS = pool(100, (i) => `/api/v1/resource/${i}`);
const STATUS = ['200', '201', '404', '429', '500'];
const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const SERIES = 10_000;
const KEYS = pool(SERIES, (s) => `series-${s}`);
const BASE_SECONDS = 1_790_000_000;

export function point(i: number): MetricPoint {
  const s = i % SERIES;
  const ms = i % 1000;
  return {
    name: NAMES[s % 50]!,
    type: 'gauge',
    unit: '1',
    resource: { 'host.name': HOSTS[s % 200]!, 'service.name': SERVICES[s % 20]! },
    // Keys in order, as Prometheus labels come.
    attributes: {
      method: METHODS[s % 4]!,
      path: PATHS[s % 100]!,
      status: STATUS[s % 5]!,
      zone: ZONES[s % 3]!,
    },
    timeUnixNano: `${BASE_SECONDS + Math.floor(i / 1000)}${String(ms * 1_000_000).padStart(9, '0')}`,
    value: i * 0.25,
  };
}

function records(from: number, to: number): OutgoingRecord<MetricPoint>[] {
  const out: OutgoingRecord<MetricPoint>[] = [];
  for (let i = from; i < to; i++) out.push({ key: KEYS[i % SERIES]!, value: point(i) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// phases (each in its own process)

interface PhaseInput {
  phase: 'bulk' | 'memory' | 'kafka';
  url: string;
  database: string;
  rows: number;
  partitions: number;
  brokers: string[];
  maxRows: number;
  maxAgeMs: number;
  file: string;
}

interface PhaseResult {
  rowsPerSec: number;
  seconds: number;
  inserts: number;
  p50ms?: number;
  p99ms?: number;
  rssMb: number;
  note?: string;
}

const quiet = pino({ level: process.env.OPSIGHT_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function gaugeEncoder(client: ClickHouseClient, database: string) {
  const described = await describeTable(client, database, TABLE);
  const types = new Map(described.map((c) => [c.name, c.type]));
  const columns = metricsMapping.tables[0]!.columns(described.map((c) => c.name));
  return compileEncoder<MetricPoint>(
    columns.map((c) => ({ name: c.name, type: types.get(c.name)!, get: c.get, optional: c.optional })),
    { sortMapKeys: true },
  );
}

/** ClickHouse's own rate: the same rows, encoded by the writer's encoder beforehand, POSTed by curl. */
async function bulkPhase(input: PhaseInput, client: ClickHouseClient): Promise<PhaseResult> {
  const encoder = await gaugeEncoder(client, input.database);
  const out = createWriteStream(input.file);
  const enc = encoder.create(8 << 20);
  for (let i = 0; i < input.rows; i++) {
    enc.append(point(i));
    if (enc.bytes > 4 << 20 || i === input.rows - 1) {
      if (!out.write(enc.finish().data)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  const query = `INSERT INTO ${quoteIdent(input.database)}.${TABLE} (${encoder.columns.map(quoteIdent).join(', ')}) FORMAT RowBinary`;
  const url = `${input.url}/?async_insert=0&query=${encodeURIComponent(query)}`;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const curl = spawn('curl', ['-sS', '--fail-with-body', '--data-binary', `@${input.file}`, url], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    curl.once('error', reject);
    curl.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl exited with ${code}`))));
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    rowsPerSec: input.rows / seconds,
    seconds,
    inserts: 1,
    rssMb: rssMb(),
    note: `${(statSync(input.file).size / 1e6).toFixed(0)} MB RowBinary file`,
  };
}

async function writerPhase(input: PhaseInput, client: ClickHouseClient): Promise<PhaseResult> {
  const topic = `bench.metrics.${input.phase}.${Date.now().toString(36)}`;
  const bus: Bus =
    input.phase === 'kafka'
      ? new KafkaBus({ brokers: input.brokers, logger: quiet })
      : new MemoryBus({ defaultPartitions: input.partitions });
  await bus.ensureTopics([{ name: topic, partitions: input.partitions }]);
  let note: string | undefined;
  const publishAll = async (concurrency: number) => {
    const chunk = 2000;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < input.rows) {
          const from = next;
          next = Math.min(input.rows, next + chunk);
          const batch = records(from, next);
          // The in-process bus refuses (as HTTP sources answer 503) when the writer is far behind.
          for (;;) {
            try {
              await bus.publish(topic, batch);
              break;
            } catch (err) {
              if (!(err instanceof BusUnavailableError)) throw err;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
        }
      }),
    );
  };
  if (input.phase === 'kafka') {
    // Kafka keeps what is published: load the topic first, then time the writer alone.
    const t = performance.now();
    await publishAll(8);
    const s = (performance.now() - t) / 1000;
    note = `topic loaded first at ${Math.round(input.rows / s).toLocaleString('en-US')} msgs/s; writer timed alone`;
  }
  const counters = new WriterCounters();
  const started = performance.now();
  const writer = await startWriter({
    bus,
    clickhouse: client,
    database: input.database,
    config: { maxRows: input.maxRows, maxBytes: 32 << 20, maxAgeMs: input.maxAgeMs, retryMaxDelayMs: 10_000 },
    group: `bench-writer-${Date.now().toString(36)}`,
    mappings: [{ ...metricsMapping, topic }],
    events: counters,
    log: quiet,
  });
  // In-process: sources publish in the writer's process, so the producer is part of the cost.
  if (input.phase === 'memory') {
    await publishAll(1);
    note = 'producer in the same process, included';
  }
  while (counters.rows(TABLE) < input.rows) await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - started) / 1000;
  await writer.stop();
  await bus.close();
  const latencies = counters.insertSeconds.map((s) => s * 1000).sort((a, b) => a - b);
  return {
    rowsPerSec: input.rows / seconds,
    seconds,
    inserts: latencies.length,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    rssMb: rssMb(),
    note,
  };
}

async function runPhase(input: PhaseInput): Promise<void> {
  replaceRootLogger(quiet);
  const client = createClient({ url: input.url, database: input.database });
  try {
    const result = input.phase === 'bulk' ? await bulkPhase(input, client) : await writerPhase(input, client);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// orchestration

function child(input: PhaseInput): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, self], {
      env: { ...process.env, BENCH_WRITER_PHASE: JSON.stringify(input) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as PhaseResult);
      else reject(new Error(`phase ${input.phase} failed (exit ${code})`));
    });
  });
}

/** The server's peak RSS since the last reset, from /proc (Linux). */
function serverPeakMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

function resetServerPeak(pid: number | undefined): void {
  if (!pid) return;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not permitted: the figure is then the peak since the server started
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '2000000' },
      partitions: { type: 'string', default: '4' },
      phases: { type: 'string', default: 'bulk,memory,kafka' },
      'max-rows': { type: 'string', default: '100000' },
      'max-age-ms': { type: 'string', default: '1000' },
    },
  });
  const rows = Number(values.rows);
  const phases = values.phases.split(',') as PhaseInput['phase'][];
  replaceRootLogger(quiet);

  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-writer-'));
  let embedded: EmbeddedClickHouse | undefined;
  let kafka: KafkaBroker | undefined;
  try {
    let url = process.env.CLICKHOUSE_URL;
    if (!url) {
      embedded = await startEmbedded({ dataDir: dir });
      url = embedded.url;
    }
    let brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
    if (phases.includes('kafka') && brokers.length === 0) {
      kafka = await startKafka();
      brokers = kafka.brokers;
    }
    const database = `bench_writer_${Date.now().toString(36)}`;
    const admin = createClient({ url });
    await migrate(admin, {
      database,
      ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
    });

    const results: Record<string, PhaseResult & { serverMb?: number }> = {};
    for (const phase of phases) {
      await admin.command({ query: `TRUNCATE TABLE ${quoteIdent(database)}.${TABLE}` });
      resetServerPeak(embedded?.pid);
      const input: PhaseInput = {
        phase,
        url,
        database,
        rows,
        partitions: Number(values.partitions),
        brokers,
        maxRows: Number(values['max-rows']),
        maxAgeMs: Number(values['max-age-ms']),
        file: join(dir, 'rows.bin'),
      };
      process.stderr.write(`bench/writer: ${phase} ...\n`);
      const result = await child(input);
      const rs = await admin.query({
        query: `SELECT count() AS n, uniqExact(Value) AS u FROM ${quoteIdent(database)}.${TABLE}`,
        format: 'JSONEachRow',
      });
      const [check] = await rs.json<{ n: string; u: string }>();
      if (Number(check?.n) !== rows || Number(check?.u) !== rows) {
        throw new Error(
          `${phase}: expected ${rows} distinct rows, table has ${check?.n} (${check?.u} distinct)`,
        );
      }
      results[phase] = { ...result, serverMb: serverPeakMb(embedded?.pid) };
    }
    await admin.command({ query: `DROP DATABASE ${quoteIdent(database)}` });
    await admin.close();
    print(rows, results, Number(values['max-rows']), Number(values['max-age-ms']));
  } finally {
    await kafka?.stop();
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(
  rows: number,
  results: Record<string, PhaseResult & { serverMb?: number }>,
  maxRows: number,
  maxAgeMs: number,
): void {
  const bulk = results.bulk?.rowsPerSec;
  const label: Record<string, string> = {
    bulk: 'ClickHouse bulk (curl RowBinary)',
    memory: 'writer, in-process bus',
    kafka: 'writer, Kafka',
  };
  const target: Record<string, string> = { memory: '>= 0.50', kafka: '>= 0.30' };
  const fmt = (n: number | undefined, digits = 0) =>
    n === undefined || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits });
  const header = [
    'path',
    'rows/s',
    'x bulk',
    'target',
    'seconds',
    'inserts',
    'p50 ms',
    'p99 ms',
    'opsight MB',
    'ClickHouse MB',
  ];
  const table = Object.entries(results).map(([phase, r]) => [
    label[phase] ?? phase,
    fmt(r.rowsPerSec),
    bulk ? (r.rowsPerSec / bulk).toFixed(2) : '-',
    target[phase] ?? '',
    r.seconds.toFixed(2),
    fmt(r.inserts),
    fmt(r.p50ms, 1),
    fmt(r.p99ms, 1),
    fmt(r.rssMb),
    fmt(r.serverMb),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `\nbench/writer: ${fmt(rows)} rows into ${TABLE} (maxRows ${fmt(maxRows)}, maxAgeMs ${maxAgeMs})\n`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
  console.log('');
  for (const [phase, r] of Object.entries(results))
    if (r.note) console.log(`${label[phase] ?? phase}: ${r.note}`);
}

const phaseInput = process.env.BENCH_WRITER_PHASE;
if (phaseInput) await runPhase(JSON.parse(phaseInput) as PhaseInput);
else await main();
