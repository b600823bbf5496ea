/**
 * Billing rows/s, FOCUS CSV and FOCUS Parquet end to end into ClickHouse with the in-process
 * bus (the billing source's file loader -> bus -> writer -> billing_focus), each beside
 * ClickHouse reading the same file itself (HTTP POST of the file into input(), converted into
 * the same table) in the same run, as a ratio, with the peak RSS sampled during each load.
 * The Parquet file is the CSV's rows exported by ClickHouse with typed columns (Decimal money,
 * DateTime64, Map tags; zstd; row groups of 50k rows).
 *
 *   npx tsx bench/ingest-billing.ts [--rows 300000]
 *
 * The file repeats the data rows of /work/shared/data/focus/focus_sample.csv (FOCUS 1.0,
 * 44 columns, AWS/Microsoft/Oracle). ClickHouse: CLICKHOUSE_URL, else an embedded server in
 * a temp directory. The pipeline runs first so the RSS figure is the pipeline's own peak.
 * With the embedded server, its CPU per row (from /proc/<pid>/stat, 10 ms resolution) is
 * printed for each load too: opsight's total cost per row is its own CPU plus the server's.
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { pipeline as pipeline_ } from 'node:stream/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { TOPICS } from '../core/bus/topics.ts';
import { MemoryBus } from '../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { replaceRootLogger } from '../core/log.ts';
import { loadBillingFile } from '../ingest/billing/load-file.ts';
import { WriterCounters, startWriter } from '../ingest/writer/index.ts';
import { minusMicros, processCpuMicros } from './support/process-cpu.ts';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '300000' } } });
const ROWS = Number(args.rows);
const SAMPLE = '/work/shared/data/focus/focus_sample.csv';
const PARQUET_ROW_GROUP = 50_000;
const loadAverage = async () => loadavg().map((x) => x.toFixed(2));
/** The embedded server's CPU so far (µs); undefined for an external CLICKHOUSE_URL. */
const serverCpu = () => processCpuMicros(embedded?.pid);
const perRow = (micros: number | undefined, rows: number) =>
  micros === undefined ? undefined : micros / rows;
const us = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(1)} CPU µs/row`);

replaceRootLogger(pino({ level: 'warn' }));
const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-billing-'));
let embedded: EmbeddedClickHouse | undefined;

async function writeFile(path: string): Promise<number> {
  const text = readFileSync(SAMPLE, 'utf8');
  const nl = text.indexOf('\n');
  const data = text
    .slice(nl + 1)
    .trimEnd()
    .split('\n');
  const out = createWriteStream(path);
  out.write(text.slice(0, nl + 1));
  for (let i = 0; i < ROWS; i += 1000) {
    const block = data.slice(0, Math.min(1000, ROWS - i)).join('\n') + '\n';
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  return ROWS;
}

/** ClickHouse's own CSV path: every column as text, converted as the pipeline converts it. */
const CH_INSERT = (table: string) => `INSERT INTO ${table}
  (BilledCost, EffectiveCost, ListCost, ContractedCost, BillingCurrency, BillingPeriodStart, BillingPeriodEnd,
   ChargePeriodStart, ChargePeriodEnd, ChargeCategory, ChargeDescription, ProviderName, PublisherName,
   InvoiceIssuerName, BillingAccountId, BillingAccountName, SubAccountId, SubAccountName, ServiceName,
   ServiceCategory, RegionId, RegionName, AvailabilityZone, ResourceId, ResourceName, ResourceType, SkuId,
   SkuPriceId, PricingUnit, PricingQuantity, ConsumedQuantity, ConsumedUnit, Tags, SourceName, SourceFile, SourceLine)
  SELECT toDecimal128(BilledCost, 10), toDecimal128(EffectiveCost, 10), toDecimal128(ListCost, 10),
   toDecimal128(ifNull(ContractedCost, '0'), 10), BillingCurrency,
   parseDateTime64BestEffort(BillingPeriodStart, 3, 'UTC'), parseDateTime64BestEffort(BillingPeriodEnd, 3, 'UTC'),
   parseDateTime64BestEffort(ChargePeriodStart, 3, 'UTC'), parseDateTime64BestEffort(ChargePeriodEnd, 3, 'UTC'),
   ChargeCategory, ifNull(ChargeDescription, ''), ProviderName, PublisherName, InvoiceIssuerName, BillingAccountId,
   ifNull(BillingAccountName, ''), ifNull(SubAccountId, ''), ifNull(SubAccountName, ''), ServiceName,
   ServiceCategory, ifNull(RegionId, ''), ifNull(RegionName, ''), ifNull(AvailabilityZone, ''),
   ifNull(ResourceId, ''), ifNull(ResourceName, ''), ifNull(ResourceType, ''), ifNull(SkuId, ''),
   ifNull(SkuPriceId, ''), ifNull(PricingUnit, ''), toDecimal128(ifNull(PricingQuantity, '0'), 10),
   toDecimal128(ifNull(ConsumedQuantity, '0'), 10), ifNull(ConsumedUnit, ''),
   JSONExtract(ifNull(Tags, '{}'), 'Map(String, String)'), 'bench-ch', 'bench.csv', rowNumberInAllBlocks() + 2
  FROM input('${COLUMNS.map((c) => `${c} Nullable(String)`).join(', ')}')
  FORMAT CSVWithNames`;

const COLUMNS = readFileSync(SAMPLE, 'utf8')
  .slice(0, readFileSync(SAMPLE, 'utf8').indexOf('\n'))
  .split(',')
  .map((c) => c.replace(/"/g, ''));

async function main() {
  let url = process.env.CLICKHOUSE_URL;
  if (!url) {
    embedded = await startEmbedded({ dataDir: join(dir, 'ch') });
    url = embedded.url;
  }
  const database = `bench_billing_${process.pid}`;
  const admin = createClient({ url });
  await migrate(admin, {
    database,
    ttlDays: { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 },
  });
  await admin.close();
  const client = createClient({
    url,
    database,
    request_timeout: 600_000,
    clickhouse_settings: { date_time_input_format: 'best_effort', async_insert: 0 },
  });
  const file = join(dir, 'focus.csv');
  await writeFile(file);
  const count = async (source: string) => {
    const rs = await client.query({
      query: `SELECT count() AS n FROM billing_focus WHERE SourceName = {s:String}`,
      query_params: { s: source },
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };

  /** The load path end to end (file -> in-process bus -> writer -> billing_focus), RSS sampled throughout. */
  const pipeline = async (source: string, path: string, sourceFile: string, expect: number) => {
    const bus = new MemoryBus({ defaultPartitions: 4 });
    const writer = await startWriter({
      bus,
      clickhouse: client,
      database,
      config: { maxRows: 100_000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 1000, retryMaxDelayMs: 1000 },
      events: new WriterCounters(),
    });
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    const t0 = performance.now();
    // CPU time of this process (ClickHouse runs apart): the figure a loaded machine moves least.
    const cpu0 = process.cpuUsage();
    const server0 = serverCpu();
    const r = await loadBillingFile(
      { bus, clickhouse: client, topic: TOPICS.billing },
      { sourceName: source, path, sourceFile },
    );
    const parsedS = (performance.now() - t0) / 1000;
    while ((await count(source)) < expect) await new Promise((res) => setTimeout(res, 50));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverUs = perRow(minusMicros(serverCpu(), server0), expect);
    clearInterval(sampler);
    await writer.stop();
    await bus.close();
    return {
      ...r,
      seconds,
      parsedS,
      rssMb: peak / 1024 / 1024,
      cpuUs: (cpu.user + cpu.system) / expect,
      serverUs,
    };
  };

  // 1. FOCUS CSV through the pipeline
  const csv = await pipeline('bench', file, 'focus.csv', ROWS);

  // 2. ClickHouse parsing the same CSV
  const t1 = performance.now();
  const chServer0 = serverCpu();
  await client.exec({
    query: CH_INSERT('billing_focus'),
    values: createReadStream(file),
    clickhouse_settings: { format_csv_null_representation: 'NULL' },
  });
  const chS = (performance.now() - t1) / 1000;
  const chServerUs = perRow(minusMicros(serverCpu(), chServer0), ROWS);
  const chRows = await count('bench-ch');

  // 3. The same rows as a typed FOCUS Parquet file (Decimal money, DateTime64, Map tags), written by ClickHouse
  const parquet = join(dir, 'focus.parquet');
  const exported = await client.exec({
    query: `SELECT * EXCEPT (SourceName, SourceFile, SourceLine) FROM billing_focus WHERE SourceName = 'bench' FORMAT Parquet`,
    clickhouse_settings: {
      output_format_parquet_row_group_size: String(PARQUET_ROW_GROUP),
      output_format_parquet_compression_method: 'zstd',
    },
  });
  await pipeline_(exported.stream, createWriteStream(parquet));
  const pq = await pipeline('bench-pq', parquet, 'focus.parquet', ROWS);

  // 4. ClickHouse reading the same Parquet file itself (input(), converted into the same table)
  const structure = await client.query({
    query: `SELECT arrayStringConcat(groupArray(concat(name, ' ', type)), ', ') AS s FROM system.columns
            WHERE database = currentDatabase() AND table = 'billing_focus' AND name NOT IN ('SourceName', 'SourceFile', 'SourceLine')`,
    format: 'JSONEachRow',
  });
  const inputStructure = (await structure.json<{ s: string }>())[0]!.s;
  const t2 = performance.now();
  const chPqServer0 = serverCpu();
  await client.exec({
    query: `INSERT INTO billing_focus SELECT *, 'bench-ch-pq' AS SourceName, 'focus.parquet' AS SourceFile,
              toUInt32(rowNumberInAllBlocks() + 1) AS SourceLine FROM input('${inputStructure.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}') FORMAT Parquet`,
    values: createReadStream(parquet),
  });
  const chPqS = (performance.now() - t2) / 1000;
  const chPqServerUs = perRow(minusMicros(serverCpu(), chPqServer0), ROWS);
  const chPqRows = await count('bench-ch-pq');

  const rate = (n: number, sec: number) => Math.round(n / sec).toLocaleString('en-US');
  const mb = (p: string) => (statSync(p).size / 1024 / 1024).toFixed(0);
  console.log(
    `FOCUS, ${ROWS.toLocaleString('en-US')} rows x 44 columns; load ${(await loadAverage()).join(' ')}`,
  );
  console.log(`  CSV ${mb(file)} MB (${csv.rejected} rejected)`);
  console.log(
    `    opsight (load -> in-process bus -> writer): ${rate(ROWS, csv.seconds)} rows/s, ${csv.seconds.toFixed(2)} s` +
      ` (parse+publish ${csv.parsedS.toFixed(2)} s), ${csv.cpuUs.toFixed(1)} CPU µs/row` +
      ` + server ${us(csv.serverUs)}, peak RSS ${csv.rssMb.toFixed(0)} MB`,
  );
  console.log(
    `    ClickHouse CSVWithNames POST:               ${rate(chRows, chS)} rows/s, ${chS.toFixed(2)} s, server ${us(chServerUs)}`,
  );
  console.log(`    ratio opsight / ClickHouse: ${(chS / csv.seconds).toFixed(2)}`);
  console.log(
    `  Parquet ${mb(parquet)} MB, zstd, row groups of ${PARQUET_ROW_GROUP.toLocaleString('en-US')} (${pq.rejected} rejected)`,
  );
  console.log(
    `    opsight (load -> in-process bus -> writer): ${rate(ROWS, pq.seconds)} rows/s, ${pq.seconds.toFixed(2)} s` +
      ` (parse+publish ${pq.parsedS.toFixed(2)} s), ${pq.cpuUs.toFixed(1)} CPU µs/row` +
      ` + server ${us(pq.serverUs)}, peak RSS ${pq.rssMb.toFixed(0)} MB`,
  );
  console.log(
    `    ClickHouse input() FORMAT Parquet POST:     ${rate(chPqRows, chPqS)} rows/s, ${chPqS.toFixed(2)} s, server ${us(chPqServerUs)}`,
  );
  console.log(`    ratio opsight / ClickHouse: ${(chPqS / pq.seconds).toFixed(2)}`);
  console.log(`  peak RSS of this process overall: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  await client.command({ query: `DROP DATABASE ${database}` });
  await client.close();
}

try {
  await main();
} finally {
  await embedded?.stop();
  rmSync(dir, { recursive: true, force: true });
}
