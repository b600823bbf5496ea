/**
 * Ingest throughput, end to end: each source's data sent to a running opsight (HTTP, syslog
 * TCP, tailed file, billing directory) until every row is in ClickHouse, with the in-process
 * bus and with Kafka, each beside ClickHouse's own bulk insert of the same rows (exported from
 * the table, POSTed back by curl as Native and as RowBinary) in the same run, with peak RSS.
 *
 *   npx tsx bench/ingest/run.ts [--workloads remote-write,otlp-metrics,otlp-logs,jsonl,syslog,file,billing-csv]
 *       [--rows 300000] [--buses memory,kafka] [--format native|rowbinary]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory; Kafka: KAFKA_BROKERS,
 * else a throwaway broker (test/support/kafka.ts). Each (workload, bus) runs in a child process
 * so its peak RSS is its own; the table is truncated between. The data is sent by a process of
 * its own (sender.ts), whose CPU time is reported apart from opsight's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';
import { migrate } from '../../core/clickhouse/migrate.ts';
import { quoteIdent } from '../../core/clickhouse/rowbinary.ts';
import { configSchema } from '../../core/config/schema.ts';
import { replaceRootLogger } from '../../core/log.ts';
import { freePort } from '../../core/net.ts';
import { startRuntime } from '../../core/runtime.ts';
import { startIngestRole } from '../../ingest/role.ts';
import { startKafka, type KafkaBroker } from '../../test/support/kafka.ts';
import { minusMicros, processCpuMicros } from '../support/process-cpu.ts';
import type { SenderInput, SenderResult } from './sender.ts';
import { WORKLOADS } from './sources.ts';

const self = fileURLToPath(import.meta.url);
const quiet = pino({ level: process.env.OPSIGHT_LOG_LEVEL ?? 'warn' }, pino.destination(2));
replaceRootLogger(quiet);

interface PhaseInput {
  workload: string;
  rows: number;
  bus: 'memory' | 'kafka';
  url: string;
  database: string;
  brokers: string[];
  format: 'native' | 'rowbinary';
  /** The embedded ClickHouse server, whose CPU time the phase measures too. */
  serverPid?: number;
  /** Extra `writer` and `kafka` settings (--writer, --partitions). */
  writer: Record<string, unknown>;
  partitions?: number;
  /** Distinct series of the remote_write workload. */
  series?: number;
}

interface PhaseResult {
  seconds: number;
  /** Until the sender's last request was accepted (published to the bus). */
  acceptedSeconds: number;
  rssMb: number;
  /** CPU time (user + system) of the phase's process from first send to last row counted, µs. */
  cpuMicros: number;
  /** CPU time of the ClickHouse server over the same span, µs (undefined when not ours). */
  serverCpuMicros?: number;
  /** CPU time of the sender process while it sent, µs. */
  senderCpuMicros: number;
}

interface Sender {
  /** Hands the sender opsight's address; resolves once everything sent was answered. */
  send(http: string): Promise<SenderResult>;
  kill(): void;
}

/** Starts sender.ts and resolves once its data is prepared (before the clock starts). */
function startSender(input: SenderInput): Promise<Sender> {
  const proc = spawn(process.execPath, [...process.execArgv, join(dirname(self), 'sender.ts')], {
    env: { ...process.env, BENCH_INGEST_SENDER: JSON.stringify(input) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // Ends when the sender does: a sender that dies says so instead of leaving the phase waiting.
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const next = await lines.next();
    if (next.done)
      throw new Error(`bench sender ${input.workload} stopped before answering (its stderr is above)`);
    return next.value;
  };
  return nextLine().then((ready) => {
    if (ready !== 'ready') throw new Error(`bench sender: expected ready, got ${ready}`);
    return {
      send: async (http) => {
        proc.stdin.end(`${JSON.stringify({ http })}\n`);
        return JSON.parse(await nextLine()) as SenderResult;
      },
      kill: () => proc.kill(),
    };
  });
}

async function count(client: ClickHouseClient, table: string): Promise<number> {
  const rs = await client.query({ query: `SELECT count() FROM ${quoteIdent(table)}`, format: 'CSV' });
  return Number((await rs.text()).trim());
}

async function runPhase(input: PhaseInput): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-ingest-'));
  const client = createClient({ url: input.url, database: input.database });
  let sender: Sender | undefined;
  try {
    const options = { series: input.series };
    const workload = WORKLOADS[input.workload]!(input.rows, options);
    const ctx = { http: '', syslogPort: await freePort(), dir };
    sender = await startSender({ workload: input.workload, rows: input.rows, options, ctx });
    const config = configSchema.parse({
      dataDir: dir,
      clickhouse: { url: input.url, database: input.database },
      kafka: { brokers: input.brokers, ...(input.partitions ? { partitions: input.partitions } : {}) },
      http: { addr: '127.0.0.1:0', bodyLimit: '64mb' },
      writer: { format: input.format, ...input.writer },
      ingest: workload.config(ctx),
    });
    const rt = await startRuntime(config, { ingest: startIngestRole }, ['ingest']);
    ctx.http = `http://${rt.httpAddress}`;
    // Timed from the first byte sent (or the file appearing) to the last row counted.
    const started = performance.now();
    // CPU time is the figure that survives a loaded machine (wall time moves with other load).
    const cpu0 = process.cpuUsage();
    const server0 = processCpuMicros(input.serverPid);
    const sent = await sender.send(ctx.http);
    const acceptedSeconds = (performance.now() - started) / 1000;
    // Polled every 100 ms: each count() costs the server ~2 ms of CPU, which at 20 ms was a
    // tenth of the server CPU the phase is measured by.
    while ((await count(client, workload.table)) < workload.rows)
      await new Promise((r) => setTimeout(r, 100));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpuMicros = minusMicros(processCpuMicros(input.serverPid), server0);
    const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    await rt.stop();
    return {
      seconds,
      acceptedSeconds,
      rssMb,
      cpuMicros: cpu.user + cpu.system,
      serverCpuMicros,
      senderCpuMicros: sent.cpuMicros,
    };
  } finally {
    sender?.kill();
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function child(input: PhaseInput): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, self], {
      env: { ...process.env, BENCH_INGEST_PHASE: JSON.stringify(input) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as PhaseResult);
      else reject(new Error(`${input.workload}/${input.bus} failed (exit ${code})`));
    });
  });
}

/** ClickHouse's own rate: the table's rows exported in `format`, truncated, POSTed back by curl. */
async function bulk(
  url: string,
  database: string,
  table: string,
  format: 'Native' | 'RowBinary',
  dir: string,
  serverPid: number | undefined,
) {
  const file = join(dir, `rows.${format}`);
  const q = (query: string) =>
    `${url}/?database=${database}&async_insert=0&query=${encodeURIComponent(query)}`;
  const curl = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const p = spawn('curl', ['-sS', '--fail-with-body', ...args], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl exited with ${code}`))));
    });
  await curl(['-o', file, '--data-binary', `SELECT * FROM ${quoteIdent(table)} FORMAT ${format}`, q('')]);
  const admin = createClient({ url, database });
  const rows = await count(admin, table);
  await admin.command({ query: `TRUNCATE TABLE ${quoteIdent(table)}` });
  const t = performance.now();
  const cpu0 = processCpuMicros(serverPid);
  await curl(['--data-binary', `@${file}`, q(`INSERT INTO ${quoteIdent(table)} FORMAT ${format}`)]);
  const seconds = (performance.now() - t) / 1000;
  const serverCpuMicros = minusMicros(processCpuMicros(serverPid), cpu0);
  await admin.close();
  return { rowsPerSec: rows / seconds, mb: statSync(file).size / 1e6, serverCpuMicros };
}

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
    // not permitted: the figure is the peak since the server started
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string', default: Object.keys(WORKLOADS).join(',') },
      rows: { type: 'string', default: '300000' },
      buses: { type: 'string', default: 'memory,kafka' },
      format: { type: 'string', default: 'native' },
      /** JSON merged into the writer config, e.g. '{"maxAgeMs":5000}'. */
      writer: { type: 'string', default: '{}' },
      partitions: { type: 'string' },
      /** Distinct series of the remote_write workload (default 10,000). */
      series: { type: 'string' },
    },
  });
  const workloads = values.workloads.split(',');
  for (const w of workloads) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w}`);
  const buses = values.buses.split(',') as PhaseInput['bus'][];
  const rows = Number(values.rows);
  const format = values.format as PhaseInput['format'];

  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-ingest-'));
  let embedded: EmbeddedClickHouse | undefined;
  let kafka: KafkaBroker | undefined;
  const lines: string[] = [];
  try {
    let url = process.env.CLICKHOUSE_URL;
    if (!url) url = (embedded = await startEmbedded({ dataDir: dir })).url;
    let brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
    if (buses.includes('kafka') && brokers.length === 0) brokers = (kafka = await startKafka()).brokers;
    const database = `bench_ingest_${Date.now().toString(36)}`;
    const admin = createClient({ url });
    await migrate(admin, {
      database,
      ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
    });
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    lines.push(
      `| source | bus | rows | rows/s end to end | CPU µs/row | ClickHouse CPU µs/row | ceiling rows/s | x bulk Native | x bulk RowBinary | accepted/s | opsight MB | ClickHouse MB | sender CPU µs/row |`,
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const w of workloads) {
      const table = WORKLOADS[w]!(rows).table;
      const results: Record<string, PhaseResult & { serverMb?: number }> = {};
      for (const bus of buses) {
        // The table, and the sources' own bookkeeping of loaded files, so each phase loads anew.
        for (const t of [table, 'billing_loads'])
          await admin.command({ query: `TRUNCATE TABLE ${quoteIdent(database)}.${quoteIdent(t)}` });
        resetServerPeak(embedded?.pid);
        process.stderr.write(`bench/ingest: ${w} via ${bus} ...\n`);
        const r = await child({
          workload: w,
          rows,
          bus,
          url,
          database,
          brokers: bus === 'kafka' ? brokers : [],
          format,
          serverPid: embedded?.pid,
          writer: JSON.parse(values.writer) as Record<string, unknown>,
          ...(values.partitions ? { partitions: Number(values.partitions) } : {}),
          ...(values.series ? { series: Number(values.series) } : {}),
        });
        results[bus] = { ...r, serverMb: serverPeakMb(embedded?.pid) };
      }
      // The rows of the last phase, inserted by ClickHouse alone.
      const native = await bulk(url, database, table, 'Native', dir, embedded?.pid);
      const rowBinary = await bulk(url, database, table, 'RowBinary', dir, embedded?.pid);
      const perRow = (us: number | undefined) => (us === undefined ? '-' : (us / rows).toFixed(1));
      // What the machine could do if nothing else ran: every core busy with this pipeline's
      // CPU per row (opsight's and ClickHouse's), whatever the wall-clock rate was.
      const ceiling = (...us: (number | undefined)[]) =>
        us.every((u) => u !== undefined)
          ? fmt((cpus().length * 1e6 * rows) / us.reduce((a: number, b) => a + b!, 0))
          : '-';
      for (const [bus, r] of Object.entries(results)) {
        const rate = rows / r.seconds;
        lines.push(
          `| ${WORKLOADS[w]!(rows).name} | ${bus} | ${fmt(rows)} | ${fmt(rate)} | ${(r.cpuMicros / rows).toFixed(1)} | ${perRow(r.serverCpuMicros)} | ${ceiling(r.cpuMicros, r.serverCpuMicros)} | ${(rate / native.rowsPerSec).toFixed(2)} | ${(rate / rowBinary.rowsPerSec).toFixed(2)} | ${r.acceptedSeconds > 0.01 ? fmt(rows / r.acceptedSeconds) : '-'} | ${r.rssMb} | ${r.serverMb ?? '-'} | ${perRow(r.senderCpuMicros)} |`,
        );
      }
      lines.push(
        `| ClickHouse bulk into ${table}, Native (${native.mb.toFixed(0)} MB) | - | ${fmt(rows)} | ${fmt(native.rowsPerSec)} | | ${perRow(native.serverCpuMicros)} | ${ceiling(native.serverCpuMicros)} | 1.00 | ${(native.rowsPerSec / rowBinary.rowsPerSec).toFixed(2)} | | | | |`,
        `| ClickHouse bulk into ${table}, RowBinary (${rowBinary.mb.toFixed(0)} MB) | - | ${fmt(rows)} | ${fmt(rowBinary.rowsPerSec)} | | ${perRow(rowBinary.serverCpuMicros)} | ${ceiling(rowBinary.serverCpuMicros)} | ${(rowBinary.rowsPerSec / native.rowsPerSec).toFixed(2)} | 1.00 | | | | |`,
      );
      process.stderr.write(`${lines.slice(-buses.length - 2).join('\n')}\n`);
    }
    await admin.command({ query: `DROP DATABASE ${quoteIdent(database)}` });
    await admin.close();
    console.log(`\nbench/ingest: ${fmt(rows)} rows per source, writer format ${format}\n`);
    console.log(lines.join('\n'));
  } finally {
    await kafka?.stop();
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const phase = process.env.BENCH_INGEST_PHASE;
if (phase) process.stdout.write(`${JSON.stringify(await runPhase(JSON.parse(phase) as PhaseInput))}\n`);
else await main();
