/**
 * Remote-Write 2.0 against 1.0, end to end into ClickHouse in the same run: 1.0 float samples
 * (the label sets of bench/ingest/sources.ts's workload), the same samples as 2.0, and 2.0 native histograms
 * (one histogram per series, schema 3, 20 positive + 10 negative buckets), each with peak RSS.
 *
 *   npx tsx bench/ingest/remote-write-v2.ts [--samples 100000] [--histograms 20000]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory. Each phase runs in a
 * child process so its peak RSS is its own (opsight and the sender together).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { compressSync } from 'snappy';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';
import { migrate } from '../../core/clickhouse/migrate.ts';
import { quoteIdent } from '../../core/clickhouse/rowbinary.ts';
import { configSchema } from '../../core/config/schema.ts';
import { replaceRootLogger } from '../../core/log.ts';
import { startRuntime } from '../../core/runtime.ts';
import { WriteRequestType } from '../../ingest/metrics/prompb.ts';
import { RequestV2Type } from '../../ingest/metrics/remote-write-v2-proto.ts';
import { startIngestRole } from '../../ingest/role.ts';

const self = fileURLToPath(import.meta.url);
replaceRootLogger(pino({ level: process.env.OPSIGHT_LOG_LEVEL ?? 'warn' }, pino.destination(2)));

const V2_HEADERS = {
  'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '2.0.0',
};
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const PER_REQUEST = 2000;

interface Phase {
  name: string;
  table: string;
  rows: number;
  prepare(): Promise<Buffer[]> | Buffer[];
  headers: Record<string, string>;
}

/** Requests as a Prometheus 3 sender builds them: one symbols table per request. */
function v2Bodies(n: number, series: (i: number, ref: (s: string) => number) => object): Buffer[] {
  const bodies: Buffer[] = [];
  for (let first = 0; first < n; first += PER_REQUEST) {
    const symbols = [''];
    const index = new Map([['', 0]]);
    const ref = (s: string) => {
      let i = index.get(s);
      if (i === undefined) index.set(s, (i = symbols.push(s) - 1));
      return i;
    };
    const timeseries = [];
    for (let i = first; i < Math.min(n, first + PER_REQUEST); i++) timeseries.push(series(i, ref));
    bodies.push(
      compressSync(
        Buffer.from(RequestV2Type.encode(RequestV2Type.fromObject({ symbols, timeseries })).finish()),
      ),
    );
  }
  return bodies;
}

/** Label values of series i, as bench/ingest/sources.ts's 1.0 workload makes them. */
function labelValues(i: number): [string, string, string, string, string] {
  const s = i % 10_000;
  return [
    `node_metric_${s % 50}`,
    String(s % 16),
    `host-${s % 200}:9100`,
    `job-${s % 5}`,
    ['idle', 'user', 'system', 'iowait'][s % 4]!,
  ];
}

const LABEL_NAMES = ['__name__', 'cpu', 'instance', 'job', 'mode'];

function labelRefs(i: number, ref: (s: string) => number): number[] {
  return labelValues(i).flatMap((v, k) => [ref(LABEL_NAMES[k]!), ref(v)]);
}

function phases(samples: number, histograms: number): Phase[] {
  return [
    {
      name: 'remote_write 1.0 samples',
      table: 'otel_metrics_gauge',
      rows: samples,
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      prepare: () => {
        const bodies: Buffer[] = [];
        for (let first = 0; first < samples; first += PER_REQUEST) {
          const timeseries = [];
          for (let i = first; i < Math.min(samples, first + PER_REQUEST); i++) {
            const [name, cpu, instance, job, mode] = labelValues(i);
            timeseries.push({
              labels: [
                { name: '__name__', value: name },
                { name: 'cpu', value: cpu },
                { name: 'instance', value: instance },
                { name: 'job', value: job },
                { name: 'mode', value: mode },
              ],
              samples: [{ value: i * 0.25, timestamp: BASE_MS + Math.floor(i / 10_000) * 1000 }],
            });
          }
          bodies.push(
            compressSync(
              Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries })).finish()),
            ),
          );
        }
        return bodies;
      },
    },
    {
      name: 'remote_write 2.0 samples',
      table: 'otel_metrics_gauge',
      rows: samples,
      headers: V2_HEADERS,
      prepare: () =>
        v2Bodies(samples, (i, ref) => ({
          labelsRefs: labelRefs(i, ref),
          samples: [{ value: i * 0.25, timestamp: BASE_MS + Math.floor(i / 10_000) * 1000 }],
        })),
    },
    {
      name: 'remote_write 2.0 native histograms',
      table: 'otel_metrics_exponential_histogram',
      rows: histograms,
      headers: V2_HEADERS,
      prepare: () =>
        v2Bodies(histograms, (i, ref) => ({
          labelsRefs: labelRefs(i, ref),
          metadata: { type: 3 },
          histograms: [
            {
              countInt: 20 * 3 + 10 * 2 + 1,
              sum: i,
              schema: 3,
              zeroThreshold: 1e-128,
              zeroCountInt: 1,
              positiveSpans: [
                { offset: -5, length: 10 },
                { offset: 2, length: 10 },
              ],
              positiveDeltas: [3, ...Array<number>(19).fill(0)],
              negativeSpans: [{ offset: 1, length: 10 }],
              negativeDeltas: [2, ...Array<number>(9).fill(0)],
              timestamp: BASE_MS + Math.floor(i / 10_000) * 1000,
            },
          ],
        })),
    },
  ];
}

interface Input {
  phase: number;
  samples: number;
  histograms: number;
  url: string;
  database: string;
}

async function runPhase(input: Input): Promise<{ seconds: number; rssMb: number }> {
  const phase = phases(input.samples, input.histograms)[input.phase]!;
  const bodies = await phase.prepare();
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-rw2-'));
  const client = createClient({ url: input.url, database: input.database });
  const config = configSchema.parse({
    dataDir: dir,
    clickhouse: { url: input.url, database: input.database },
    http: { addr: '127.0.0.1:0', bodyLimit: '64mb' },
  });
  const rt = await startRuntime(config, { ingest: startIngestRole }, ['ingest']);
  const url = `http://${rt.httpAddress}/api/v1/write`;
  const count = async () =>
    Number(
      await (
        await client.query({ query: `SELECT count() FROM ${quoteIdent(phase.table)}`, format: 'CSV' })
      ).text(),
    );
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        for (;;) {
          const res = await fetch(url, { method: 'POST', headers: phase.headers, body });
          await res.arrayBuffer();
          if (res.status === 204) break;
          if (res.status === 503) await new Promise((r) => setTimeout(r, 100));
          else throw new Error(`${phase.name}: HTTP ${res.status}`);
        }
      }
    }),
  );
  while ((await count()) < phase.rows) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  await rt.stop();
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  return { seconds, rssMb };
}

function child(input: Input): Promise<{ seconds: number; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, self], {
      env: { ...process.env, BENCH_RW2_PHASE: JSON.stringify(input) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as { seconds: number; rssMb: number });
      else reject(new Error(`phase ${input.phase} failed (exit ${code})`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '100000' },
      histograms: { type: 'string', default: '20000' },
    },
  });
  const samples = Number(values.samples);
  const histograms = Number(values.histograms);
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-rw2-'));
  let embedded: EmbeddedClickHouse | undefined;
  try {
    const url = process.env.CLICKHOUSE_URL ?? (embedded = await startEmbedded({ dataDir: dir })).url;
    const database = `bench_rw2_${Date.now().toString(36)}`;
    const admin = createClient({ url });
    await migrate(admin, {
      database,
      ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
    });
    const list = phases(samples, histograms);
    const rates: number[] = [];
    const lines = [
      '| workload | rows | rows/s end to end | x 1.0 samples | peak RSS MB |',
      '| --- | ---: | ---: | ---: | ---: |',
    ];
    for (const [i, p] of list.entries()) {
      await admin.command({ query: `TRUNCATE TABLE ${quoteIdent(database)}.${quoteIdent(p.table)}` });
      process.stderr.write(`bench/ingest/remote-write-v2: ${p.name} ...\n`);
      const r = await child({ phase: i, samples, histograms, url, database });
      const rate = p.rows / r.seconds;
      rates.push(rate);
      lines.push(
        `| ${p.name} | ${p.rows} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / rates[0]!).toFixed(2)} | ${r.rssMb} |`,
      );
    }
    await admin.command({ query: `DROP DATABASE ${quoteIdent(database)}` });
    await admin.close();
    console.log(lines.join('\n'));
    console.log(
      `load average: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_RW2_PHASE) {
  const result = await runPhase(JSON.parse(process.env.BENCH_RW2_PHASE) as Input);
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  await main();
}
