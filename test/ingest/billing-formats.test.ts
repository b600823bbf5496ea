import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BillingLine } from '../../core/model/records.ts';
import { FocusFileError } from '../../ingest/billing/focus.ts';
import { FOCUS_DIR, fileFacts, readText, scaled } from './billing-support.ts';
import {
  clickhouseParquet,
  parseAll,
  startLoader,
  sumNative,
  survives,
  sumText,
  type Loader,
} from './billing-formats-support.ts';

/**
 * The providers' native exports (AWS CUR, Azure EA, GCP detailed export, OCI cost report)
 * mapped onto FOCUS: each sample through the real bus and writer into billing_focus with the
 * native file's own row count and exact cost sums; categories, periods and tags as the
 * mapping (mappings.json) says; bad rows dead-lettered with their line; fuzzed input.
 */

const NATIVE = join(FOCUS_DIR, 'native');
const AWS = 'aws/cur_legacy_anonymized_first99.csv';
const AZURE_EA = 'azure/ea_actual_cost_small.csv';
const AZURE_USAGE = 'azure/ea_usage_export_anonymized.csv';
const GCP = 'gcp/SYNTHETIC_detailed_export_rows.jsonl';
const OCI = 'oci/oci_cost_report_first99.csv';

let dir: string;
let loader: Loader;

/** The native CSV's records as column -> text (read by csv-parse, not by the product). */
const nativeRows = (file: string) => fileFacts(readText(join(NATIVE, file))).records.map((r) => r.row);

/** GCP rows with numbers as their source text (JSON.parse then String() is exact for these small values). */
const gcpRows = () =>
  readText(join(NATIVE, GCP))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const quote = (f: string) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f);

/** A native CSV with some cells changed: {dataRowIndex: {column: value}}. Lines stay the same. */
function editedCsv(file: string, edits: Record<number, Record<string, string>>): string {
  const rows = parse(readText(join(NATIVE, file)), { bom: true }) as string[][];
  const header = rows[0]!;
  for (const [i, cells] of Object.entries(edits))
    for (const [col, v] of Object.entries(cells)) rows[Number(i) + 1]![header.indexOf(col)] = v;
  return rows.map((r) => r.map(quote).join(',')).join('\n') + '\n';
}

function count<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsight-formats-'));
  loader = await startLoader(inject('clickhouseUrl'), 'formats');
}, 120_000);

afterAll(async () => {
  await loader?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('native billing exports', () => {
  it('AWS legacy CUR: every row, exact UnblendedCost sum, Tax rows, one period', async () => {
    const rows = nativeRows(AWS);
    const r = await loader.load(join(NATIVE, AWS), AWS);
    expect(r).toEqual({ rows: 99, rejected: 0, periods: ['2023-11-01T00:00:00.000Z'] });
    const want = sumNative(rows, 'lineItem/UnblendedCost', loader.scale);
    expect(await loader.stored(AWS, 99)).toEqual({ n: 99, billed: want, effective: want });
    const { lines } = await parseAll(join(NATIVE, AWS), AWS);
    expect(count(lines, (l) => l.ChargeCategory)).toEqual(
      count(rows, (row) => (row['lineItem/LineItemType'] === 'Tax' ? 'Tax' : 'Usage')),
    );
    expect(new Set(lines.map((l) => l.ProviderName))).toEqual(new Set(['AWS']));
    expect(lines[0]).toMatchObject({
      BillingPeriodEnd: '2023-12-01T00:00:00.000Z',
      ServiceName: 'AWS CloudTrail', // product/ProductName via the product map
      SubAccountId: '123412340534',
      PublisherName: 'Amazon Web Services Canada, Inc.',
      SourceLine: 2,
    });
  });

  it('AWS CUR 2.0 as Parquet (snake_case, product map, Decimal costs) maps like the legacy CSV', async () => {
    const sql = `SELECT \`lineItem/LineItemType\` AS line_item_line_item_type,
        parseDateTime64BestEffort(\`lineItem/UsageStartDate\`, 3, 'UTC') AS line_item_usage_start_date,
        parseDateTime64BestEffort(\`lineItem/UsageEndDate\`, 3, 'UTC') AS line_item_usage_end_date,
        toDecimal128(\`lineItem/UnblendedCost\`, 12) AS line_item_unblended_cost,
        parseDateTime64BestEffort(\`bill/BillingPeriodStartDate\`, 3, 'UTC') AS bill_billing_period_start_date,
        parseDateTime64BestEffort(\`bill/BillingPeriodEndDate\`, 3, 'UTC') AS bill_billing_period_end_date,
        \`lineItem/CurrencyCode\` AS line_item_currency_code, \`lineItem/ProductCode\` AS line_item_product_code,
        \`lineItem/UsageAccountId\` AS line_item_usage_account_id, \`bill/PayerAccountId\` AS bill_payer_account_id,
        map('product_name', \`product/ProductName\`, 'region', \`product/region\`) AS product,
        map('user_team', 'web') AS resource_tags
      FROM data`;
    const out = join(dir, 'cur2.parquet');
    await clickhouseParquet(inject('clickhouseUrl'), readText(join(NATIVE, AWS)), sql, out);
    const r = await loader.load(out, 'cur2.parquet');
    expect(r.rows).toBe(99);
    const want = sumNative(nativeRows(AWS), 'lineItem/UnblendedCost', loader.scale);
    expect((await loader.stored('cur2.parquet', 99)).billed).toBe(want);
    const legacy = (await parseAll(join(NATIVE, AWS), AWS)).lines;
    const cur2 = (await parseAll(out, 'cur2.parquet')).lines;
    const pick = (l: BillingLine) => ({
      billed: scaled(l.BilledCost, 12),
      category: l.ChargeCategory,
      service: l.ServiceName,
      start: l.ChargePeriodStart,
      period: l.BillingPeriodStart,
      account: l.SubAccountId,
    });
    expect(cur2.map(pick)).toEqual(legacy.map(pick));
    expect(cur2[0]!.Tags).toEqual({ user_team: 'web' });
  });

  it('Azure EA (old names, BOM, MM/DD/YYYY): exact Cost sum, Purchase row, amortised EffectiveCost', async () => {
    const rows = nativeRows(AZURE_EA);
    const r = await loader.load(join(NATIVE, AZURE_EA), AZURE_EA);
    expect(r).toEqual({ rows: 11, rejected: 0, periods: ['2023-09-01T00:00:00.000Z'] });
    const billed = sumNative(rows, 'Cost', loader.scale);
    // The README's "8.545008": the file's own sum, rounded.
    expect(Number(billed) / 10 ** loader.scale).toBeCloseTo(8.545008, 6);
    // A reservation purchase is amortised elsewhere: EffectiveCost 0 (mappings.json).
    const purchase = rows.filter(
      (row) => row.ChargeType === 'Purchase' && row.PricingModel === 'Reservation',
    );
    expect(purchase.length).toBe(1);
    expect(await loader.stored(AZURE_EA, 11)).toEqual({
      n: 11,
      billed,
      effective: billed - sumNative(purchase, 'Cost', loader.scale),
    });
    const { lines } = await parseAll(join(NATIVE, AZURE_EA), AZURE_EA);
    expect(count(lines, (l) => l.ChargeCategory)).toEqual({ Usage: 10, Purchase: 1 });
    expect(
      lines.every((l) => l.ProviderName === 'Microsoft' && l.BillingPeriodEnd === '2023-10-01T00:00:00.000Z'),
    ).toBe(true);
    expect(lines[0]).toMatchObject({
      ChargePeriodStart: '2023-09-21T00:00:00.000Z',
      ChargePeriodEnd: '2023-09-22T00:00:00.000Z',
      BillingCurrency: 'USD',
      SubAccountId: '/subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d',
    });
  });

  it('Azure EA usage (new names, M/D/YYYY, CRLF): exact CostInBillingCurrency sum, tags without braces', async () => {
    const rows = nativeRows(AZURE_USAGE);
    const r = await loader.load(join(NATIVE, AZURE_USAGE), AZURE_USAGE);
    expect(r).toEqual({ rows: 27, rejected: 0, periods: ['2023-09-01T00:00:00.000Z'] });
    const billed = sumNative(rows, 'CostInBillingCurrency', loader.scale);
    expect(Number(billed) / 10 ** loader.scale).toBeCloseTo(1.261369, 6);
    expect(await loader.stored(AZURE_USAGE, 27)).toEqual({ n: 27, billed, effective: billed });
    const [row] = await loader.db.rows<{ Tags: Record<string, string>; BillingCurrency: string }>(
      `SELECT Tags, BillingCurrency FROM billing_focus WHERE SourceFile = '${AZURE_USAGE}' AND SourceLine = 2`,
    );
    expect(row).toEqual({ Tags: { tagA: 'valueA', tagB: 'valueB', tagC: 'valueC' }, BillingCurrency: 'CAD' });
  });

  it('GCP detailed export (JSON lines): credits summed into the costs, Pacific invoice month', async () => {
    const rows = gcpRows();
    const r = await loader.load(join(NATIVE, GCP), GCP);
    // 2024-09 starts at 07:00 UTC (PDT) and ends at 2024-10-01 07:00 UTC.
    expect(r).toEqual({ rows: 4, rejected: 0, periods: ['2024-09-01T07:00:00.000Z'] });
    const credits = (row: Record<string, unknown>) =>
      ((row.credits as { amount: number }[] | null) ?? []).map((c) => String(c.amount));
    const want = sumText(
      rows.flatMap((row) => [String(row.cost), ...credits(row)]),
      loader.scale,
    );
    expect(await loader.stored(GCP, 4)).toEqual({ n: 4, billed: want, effective: want });
    const { lines } = await parseAll(join(NATIVE, GCP), GCP);
    expect(lines.map((l) => [l.SourceLine, l.ChargeCategory, l.BilledCost])).toEqual([
      [1, 'Usage', '0.19'], // 0.25 - 0.05 sustained use - 0.01 promotion
      [2, 'Usage', '0'], // fully covered by the committed use discount
      [3, 'Tax', '3.4'],
      [4, 'Adjustment', '-0.5'],
    ]);
    expect(lines[0]).toMatchObject({
      ProviderName: 'Google Cloud',
      BillingPeriodEnd: '2024-10-01T07:00:00.000Z',
      ListCost: '0.25',
      SubAccountId: 'synthetic-web-prod',
      ResourceType: 'instances',
      Tags: {
        team: 'web',
        env: 'prod',
        app: 'checkout',
        'compute.googleapis.com/machine_spec': 'n2-standard-8',
      },
    });
  });

  it('GCP export as Parquet (nested structs, lists of structs, Decimal) maps like the JSON lines', async () => {
    const label = 'Array(Tuple(key String, value String))';
    const structure = [
      'billing_account_id String',
      'service Tuple(id String, description String)',
      'sku Tuple(id String, description String)',
      'usage_start_time String',
      'usage_end_time String',
      `project Tuple(id String, name String, labels ${label})`,
      `labels ${label}`,
      `system_labels ${label}`,
      'location Tuple(location String, country String, region Nullable(String), zone Nullable(String))',
      'cost Decimal(38, 9)',
      'currency String',
      'usage Tuple(amount Decimal(38, 9), unit String, amount_in_pricing_units Decimal(38, 9), pricing_unit String)',
      'credits Array(Tuple(name String, amount Decimal(38, 9), type String))',
      'invoice Tuple(month String)',
      'cost_type String',
      'cost_at_list Nullable(Decimal(38, 9))',
      'transaction_type String',
      'resource Tuple(name String, global_name String)',
      'price Tuple(effective_price String, tier_start_amount Nullable(String))',
    ].join(', ');
    const out = join(dir, 'gcp.parquet');
    await clickhouseParquet(
      inject('clickhouseUrl'),
      readText(join(NATIVE, GCP)),
      `SELECT * REPLACE (parseDateTime64BestEffort(usage_start_time, 3, 'UTC') AS usage_start_time,
         parseDateTime64BestEffort(usage_end_time, 3, 'UTC') AS usage_end_time) FROM data`,
      out,
      { input_format_skip_unknown_fields: '1' },
      { format: 'JSONEachRow', structure },
    );
    const money = (l: BillingLine) => ({
      ...l,
      SourceFile: '',
      BilledCost: scaled(l.BilledCost, 9),
      EffectiveCost: scaled(l.EffectiveCost, 9),
      ListCost: scaled(l.ListCost, 9),
      ContractedCost: l.ContractedCost && scaled(l.ContractedCost, 9),
      PricingQuantity: l.PricingQuantity && scaled(l.PricingQuantity, 9),
      ConsumedQuantity: l.ConsumedQuantity && scaled(l.ConsumedQuantity, 9),
      // ClickHouse writes a null price's tier as an empty tuple field: no SkuPriceId either way.
      SkuPriceId: l.SkuPriceId,
    });
    const fromParquet = await parseAll(out, 'gcp.parquet');
    expect(fromParquet.problems).toEqual([]);
    expect(fromParquet.lines.map(money)).toEqual((await parseAll(join(NATIVE, GCP), GCP)).lines.map(money));
    expect((await loader.load(out, 'gcp.parquet')).rows).toBe(4);
  });

  it('OCI cost report: exact myCost sum, tags/<ns>.<key> columns as tags', async () => {
    const rows = nativeRows(OCI);
    const r = await loader.load(join(NATIVE, OCI), OCI);
    expect(r).toEqual({ rows: 99, rejected: 0, periods: ['2023-11-01T00:00:00.000Z'] });
    const billed = sumNative(rows, 'cost/myCost', loader.scale);
    expect(await loader.stored(OCI, 99)).toEqual({ n: 99, billed, effective: billed });
    const { lines } = await parseAll(join(NATIVE, OCI), OCI);
    expect(new Set(lines.map((l) => `${l.ProviderName}/${l.ChargeCategory}`))).toEqual(
      new Set(['Oracle/Usage']),
    );
    expect(lines[0]!.Tags).toMatchObject({
      'Oracle-Tags.CreatedBy': 'default/phil.newman@oracle.com',
      'Valtest.Cat': 'boots',
    });
    expect(lines[0]).toMatchObject({
      ChargePeriodStart: '2023-11-13T10:00:00.000Z',
      BillingPeriodEnd: '2023-12-01T00:00:00.000Z',
    });
  });
});

describe('format selection', () => {
  it('detects each format from its columns, and names the file it cannot place', async () => {
    const cases: [string, string][] = [
      [AWS, 'AWS'],
      [AZURE_EA, 'Microsoft'],
      [AZURE_USAGE, 'Microsoft'],
      [GCP, 'Google Cloud'],
      [OCI, 'Oracle'],
    ];
    for (const [file, provider] of cases) {
      const { lines } = await parseAll(join(NATIVE, file), file, 'auto');
      expect({ file, provider: lines[0]!.ProviderName }).toEqual({ file, provider });
    }
    // Gzip is recognised by content, the container by the name.
    writeFileSync(join(dir, 'oci.csv.gz'), gzipSync(readFileSync(join(NATIVE, OCI))));
    expect((await parseAll(join(dir, 'oci.csv.gz'), 'oci.csv.gz')).lines.length).toBe(99);
    writeFileSync(join(dir, 'gcp.jsonl.gz'), gzipSync(readFileSync(join(NATIVE, GCP))));
    expect((await parseAll(join(dir, 'gcp.jsonl.gz'), 'gcp.jsonl.gz')).lines.length).toBe(4);
    writeFileSync(join(dir, 'mystery.csv'), 'when,what,amount\n2024-01-01,x,1\n');
    await expect(parseAll(join(dir, 'mystery.csv'), 'mystery.csv')).rejects.toThrow(
      /^mystery\.csv: not a FOCUS file: header lacks .*; nor an AWS CUR, Azure, GCP or OCI export$/,
    );
    // A format given in the config is used as is, and a file that is not it is refused.
    await expect(parseAll(join(NATIVE, AWS), AWS, 'oci')).rejects.toThrow(/not an OCI cost report: lacks/);
    await expect(parseAll(join(NATIVE, OCI), OCI, 'azure')).rejects.toBeInstanceOf(FocusFileError);
  });
});

describe('bad native rows', () => {
  it('dead-letters a malformed row of each format with its line and loads the good rows', async () => {
    const cases: {
      file: string;
      native: string;
      cost: string;
      edits: Record<number, Record<string, string>>;
    }[] = [
      {
        file: 'bad-aws.csv',
        native: AWS,
        cost: 'lineItem/UnblendedCost',
        edits: { 2: { 'lineItem/UnblendedCost': 'n/a' } },
      },
      { file: 'bad-azure.csv', native: AZURE_EA, cost: 'Cost', edits: { 4: { Date: '31/31/2023' } } },
      {
        file: 'bad-oci.csv',
        native: OCI,
        cost: 'cost/myCost',
        edits: { 0: { 'cost/myCost': '' }, 9: { 'cost/myCost': '1e999' } },
      },
    ];
    for (const c of cases) {
      writeFileSync(join(dir, c.file), editedCsv(c.native, c.edits));
      const rows = nativeRows(c.native);
      const badIdx = Object.keys(c.edits).map(Number);
      const r = await loader.load(join(dir, c.file), c.file);
      expect({ file: c.file, rows: r.rows, rejected: r.rejected }).toEqual({
        file: c.file,
        rows: rows.length - badIdx.length,
        rejected: badIdx.length,
      });
      const dead = await loader.deadLetters(c.file);
      expect(dead.map((d) => d.offset)).toEqual(badIdx.map((i) => i + 2));
      for (const d of dead) expect(d.reason).toMatch(new RegExp(`^${c.file}:${d.offset}: `));
      const good = rows.filter((_, i) => !badIdx.includes(i));
      expect((await loader.stored(c.file, good.length)).billed).toBe(sumNative(good, c.cost, loader.scale));
    }
    expect((await loader.deadLetters('bad-aws.csv'))[0]!.reason).toBe(
      'bad-aws.csv:4: line_item_unblended_cost = "n/a": not a decimal number',
    );
    expect((await loader.deadLetters('bad-azure.csv'))[0]!.reason).toBe(
      'bad-azure.csv:6: Date = "31/31/2023": not a date',
    );

    const lines = readText(join(NATIVE, GCP)).trimEnd().split('\n');
    lines[1] = lines[1]!.slice(0, 80); // cut mid-object
    lines[2] = lines[2]!.replace('"month":"202409"', '"month":"2024-09"');
    writeFileSync(join(dir, 'bad-gcp.jsonl'), lines.join('\n') + '\n');
    const r = await loader.load(join(dir, 'bad-gcp.jsonl'), 'bad-gcp.jsonl');
    expect(r).toMatchObject({ rows: 2, rejected: 2 });
    const dead = await loader.deadLetters('bad-gcp.jsonl');
    expect(dead.map((d) => d.offset)).toEqual([2, 3]);
    expect(dead[0]!.reason).toMatch(/^bad-gcp\.jsonl:2: invalid JSON/);
    expect(dead[1]!.reason).toBe('bad-gcp.jsonl:3: invoice.month = "2024-09": not YYYYMM');
    const good = gcpRows().filter((_, i) => i !== 1 && i !== 2);
    expect((await loader.stored('bad-gcp.jsonl', 2)).billed).toBe(
      sumText(
        good.flatMap((row) => [
          String(row.cost),
          ...((row.credits as { amount: number }[]) ?? []).map((c) => String(c.amount)),
        ]),
        loader.scale,
      ),
    );
  });

  it('survives thousands of random and truncated variants of native files', async () => {
    let seed = 5;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const sources = [AZURE_USAGE, OCI, AWS, GCP].map((f) => ({ f, text: readText(join(NATIVE, f)) }));
    const noise = ['"', ',', '\n', '\r\n', '{', '}', '[', ':', '\\', 'x', '9', '-', '.', 'e', '\ufeff', ''];
    const outcomes = { ok: 0, 'file-error': 0 };
    for (let t = 0; t < 2400; t++) {
      const { f, text } = sources[t % sources.length]!;
      // Small slices keep the run short; the header stays in most of them.
      let s = text.slice(0, 400 + rnd(1600));
      const kind = rnd(3);
      if (kind === 0) s = s.slice(0, rnd(s.length));
      else
        for (let k = 0; k < 1 + rnd(10); k++) {
          const at = rnd(s.length + 1);
          s = s.slice(0, at) + noise[rnd(noise.length)] + s.slice(at + (kind === 1 ? 1 : 0));
        }
      const name = `fuzz-${t}${f.endsWith('.jsonl') ? '.jsonl' : '.csv'}`;
      writeFileSync(join(dir, name), s);
      outcomes[await survives(join(dir, name), name)]++;
      rmSync(join(dir, name));
    }
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes['file-error']).toBeGreaterThan(0);
  }, 300_000);
});
