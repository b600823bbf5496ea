/**
 * Billing rows/s, FOCUS CSV end to end into ClickHouse with the in-process bus (the billing
 * source's file loader -> bus -> writer -> billing_focus), beside ClickHouse parsing the same
 * CSV itself (HTTP POST, FORMAT CSVWithNames via input(), converted into the same table) in
 * the same run, as a ratio, with peak RSS of this process.
 *
 *   npx tsx bench/ingest-billing.ts [--rows 300000]
 *
 * The file repeats the data rows of /work/shared/data/focus/focus_sample.csv (FOCUS 1.0,
 * 44 columns, AWS/Microsoft/Oracle). ClickHouse: CLICKHOUSE_URL, else an embedded server in
 * a temp directory. The pipeline runs first so the RSS figure is the pipeline's own peak.
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { TOPICS } from '../core/bus/topics.ts';
import { MemoryBus } from '../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { migrate } from '../core/clickhouse/migrate.ts';
import { replaceRootLogger } from '../core/log.ts';
import { loadFocusFile } from '../ingest/billing/load-file.ts';
import { WriterCounters, startWriter } from '../ingest/writer/index.ts';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '300000' } } });
const ROWS = Number(args.rows);
const SAMPLE = '/work/shared/data/focus/focus_sample.csv';

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

  // 1. the pipeline
  const bus = new MemoryBus({ defaultPartitions: 4 });
  const counters = new WriterCounters();
  const writer = await startWriter({
    bus,
    clickhouse: client,
    database,
    config: { maxRows: 100_000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 1000, retryMaxDelayMs: 1000 },
    events: counters,
  });
  const t0 = performance.now();
  const r = await loadFocusFile(
    { bus, clickhouse: client, topic: TOPICS.billing },
    {
      sourceName: 'bench',
      path: file,
      sourceFile: 'focus.csv',
    },
  );
  const parsed = performance.now();
  while ((await count('bench')) < ROWS) await new Promise((res) => setTimeout(res, 50));
  const pipelineS = (performance.now() - t0) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  await writer.stop();
  await bus.close();

  // 2. ClickHouse parsing the same CSV
  const t1 = performance.now();
  await client.exec({
    query: CH_INSERT('billing_focus'),
    values: createReadStream(file),
    clickhouse_settings: { format_csv_null_representation: 'NULL' },
  });
  const chS = (performance.now() - t1) / 1000;
  const chRows = await count('bench-ch');

  const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');
  console.log(`FOCUS CSV, ${ROWS.toLocaleString('en-US')} rows x 44 columns (${r.rejected} rejected)`);
  console.log(
    `  opsight (load -> in-process bus -> writer): ${rate(ROWS, pipelineS)} rows/s, ${pipelineS.toFixed(2)} s` +
      ` (parse+publish ${((parsed - t0) / 1000).toFixed(2)} s), peak RSS ${rssMb.toFixed(0)} MB`,
  );
  console.log(
    `  ClickHouse CSVWithNames POST:               ${rate(chRows, chS)} rows/s, ${chS.toFixed(2)} s`,
  );
  console.log(`  ratio opsight / ClickHouse: ${(chS / pipelineS).toFixed(2)}`);
  await client.command({ query: `DROP DATABASE ${database}` });
  await client.close();
}

try {
  await main();
} finally {
  await embedded?.stop();
  rmSync(dir, { recursive: true, force: true });
}
