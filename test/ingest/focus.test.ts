import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Runtime } from '../../core/runtime.ts';
import { FocusFileError, parseFocusCsv } from '../../ingest/billing/focus.ts';
import { testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';
import { FOCUS_DIR, fileFacts, readText, scaled, startPipeline, sumColumn } from './billing-support.ts';

/**
 * Every FOCUS sample file through the real pipeline (runtime + ingest role + writer) into
 * billing_focus, checked against the file's own exact sums; bad rows into dead_letters; and
 * the parser fed thousands of random and truncated inputs.
 */

const SAMPLES = [
  'focus_sample.csv',
  ...readdirSync(join(FOCUS_DIR, 'spec-examples'))
    .filter((f) => f.endsWith('.csv'))
    .map((f) => `spec-examples/${f}`),
];

let db: TestDatabase;
let runtime: Runtime | undefined;
let gzDir: string;
let badDir: string;
/** Scale of billing_focus money columns: a file value is stored truncated to it. */
let scale: number;

const BAD_CSV = [
  'BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ListCost,ServiceName,ProviderName,BillingCurrency,Tags',
  '2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,1.50,1.25,2.00,EC2,AWS,USD,"{""team"": ""a"", ""n"": 3}"',
  '2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,one dollar,1,1,EC2,AWS,USD,NULL',
  '2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,NULL,1,1,EC2,AWS,USD,NULL',
  '2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,2.25,2,2,EC2,AWS,USD,{not json',
  '2024-09-01,2024-10-01,2024-09-02 00:00:00,2024-09-02 01:00:00,Usage,3,3',
  '2024-09-01,2024-10-01,2024-09-31 00:00:00,2024-09-02 01:00:00,Usage,3,3,3,EC2,AWS,USD,',
  '2024-09-01,2024-10-01,2024-09-03 00:00:00,2024-09-03 01:00:00,Usage,0.000000000001,-4.75,5,S3,AWS,USD,"{}"',
  '',
].join('\n');

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'focus');
  const [col] = await db.rows<{ type: string }>(
    `SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'billing_focus' AND name = 'BilledCost'`,
  );
  scale = Number(/Decimal\(\d+, (\d+)\)/.exec(col!.type)![1]);
  gzDir = mkdtempSync(join(tmpdir(), 'opsight-focus-gz-'));
  writeFileSync(join(gzDir, 'focus_sample.csv.gz'), gzipSync(readText(join(FOCUS_DIR, 'focus_sample.csv'))));
  // A gzip cut in half: the file is refused by name, the pipeline goes on.
  const gz = gzipSync(readText(join(FOCUS_DIR, 'focus_sample.csv')));
  writeFileSync(join(gzDir, 'truncated.csv.gz'), gz.subarray(0, gz.length >> 1));
  badDir = mkdtempSync(join(tmpdir(), 'opsight-focus-bad-'));
  writeFileSync(join(badDir, 'bad.csv'), BAD_CSV);
  writeFileSync(join(badDir, 'not-focus.csv'), 'a,b\n1,2\n');
  runtime = await startPipeline(inject('clickhouseUrl'), db.database, [
    // Straight from the shared folder: nothing is copied into the project.
    {
      name: 'samples',
      kind: 'directory',
      path: FOCUS_DIR,
      pattern: '{focus_sample.csv,spec-examples/*.csv}',
      intervalSeconds: 0.5,
    },
    { name: 'gz', kind: 'directory', path: gzDir, intervalSeconds: 0.5 },
    { name: 'bad', kind: 'directory', path: badDir, format: 'focus', intervalSeconds: 0.5 },
  ]);
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await db?.drop();
  for (const d of [gzDir, badDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const doneLoads = (source: string) =>
  db.scalar(`SELECT count() FROM billing_loads WHERE source = '${source}' AND status != 'loading'`);

async function loaded(source: string, file: string) {
  const [r] = await db.rows<{ n: number; billed: string; effective: string }>(
    `SELECT count() AS n, toString(sum(BilledCost)) AS billed, toString(sum(EffectiveCost)) AS effective
     FROM billing_focus WHERE SourceName = '${source}' AND SourceFile = '${file}'`,
  );
  return { n: Number(r!.n), billed: scaled(r!.billed, scale), effective: scaled(r!.effective, scale) };
}

async function deadLines(source: string, file: string) {
  return db.rows<{ offset: number; reason: string }>(
    `SELECT offset, reason FROM dead_letters WHERE source = '${source}' AND key = '${file}' ORDER BY offset`,
  );
}

describe('FOCUS files through the pipeline', () => {
  it('loads every sample file with exact row counts and cost sums', async () => {
    await waitFor(async () => (await doneLoads('samples')) === SAMPLES.length, 'all sample files loaded');
    for (const file of SAMPLES) {
      const { records } = fileFacts(readText(join(FOCUS_DIR, file)));
      const dead = await deadLines('samples', file);
      // The only bad values in the samples: two spec examples end a charge period at hour 30.
      for (const d of dead)
        expect(d.reason).toMatch(/ChargePeriodEnd = "2023-02-01T30:00:00Z": not an ISO 8601/);
      expect(dead.length).toBe(records.filter((r) => r.row.ChargePeriodEnd?.includes('T30:')).length);
      const good = records.filter((r) => !dead.some((d) => d.offset === r.line)).map((r) => r.row);
      const want = {
        n: good.length,
        billed: sumColumn(good, 'BilledCost', scale),
        effective: sumColumn(good, 'EffectiveCost', scale),
      };
      await waitFor(async () => (await loaded('samples', file)).n >= want.n, `rows of ${file}`);
      expect({ file, ...(await loaded('samples', file)) }).toEqual({ file, ...want });
    }
    // focus_sample.csv as the README describes it (truncated to the column scale).
    const sample = await loaded('samples', 'focus_sample.csv');
    expect(sample.n).toBe(1000);
    expect(sample.billed / 10n ** BigInt(scale - 4)).toBe(205202n); // 20.5202 USD
  });

  it('keeps values exact: money text, ISO dates, tags, source line', async () => {
    const [row] = await db.rows<Record<string, unknown>>(
      `SELECT toString(BilledCost) AS BilledCost, toString(ConsumedQuantity) AS ConsumedQuantity,
         ChargePeriodStart, BillingPeriodEnd, Tags, SourceLine, ServiceName, SubAccountId
       FROM billing_focus WHERE SourceFile = 'focus_sample.csv' AND ResourceId LIKE '%tungsten-lonbmuenle-amf%'
         AND ChargePeriodStart = '2024-09-30 22:00:00'`,
    );
    expect(row).toMatchObject({
      ChargePeriodStart: '2024-09-30 22:00:00.000',
      BillingPeriodEnd: '2024-10-01 00:00:00.000',
      Tags: { application: 'BrightLensMatrix', environment: 'dev', business_unit: 'ViennaAI' },
      SourceLine: 3,
      ServiceName: 'Elastic Load Balancing',
      SubAccountId: '43883916739',
    });
    expect(scaled(String(row!.BilledCost), scale)).toBe(scaled('0.00001605990', scale));
    // Absent columns in the spec's excerpts get documented placeholders.
    const [spec] = await db.rows<Record<string, string>>(
      `SELECT ProviderName, BillingCurrency, toString(ListCost) AS ListCost FROM billing_focus
       WHERE SourceFile = 'spec-examples/commitment_discount_usage_scenario_1.csv'`,
    );
    expect(spec).toMatchObject({ ProviderName: 'unknown', BillingCurrency: 'XXX' });
  });

  it('loads CSV.gz the same as CSV, and refuses a truncated gzip by name', async () => {
    await waitFor(async () => (await doneLoads('gz')) === 2, 'gz files handled');
    const want = await loaded('samples', 'focus_sample.csv');
    await waitFor(async () => (await loaded('gz', 'focus_sample.csv.gz')).n >= 1000, 'gz rows');
    expect(await loaded('gz', 'focus_sample.csv.gz')).toEqual(want);
    const [failed] = await db.rows<{ status: string; error: string }>(
      `SELECT toString(status) AS status, error FROM billing_loads WHERE source = 'gz' AND path = 'truncated.csv.gz' ORDER BY at DESC LIMIT 1`,
    );
    expect(failed!.status).toBe('failed');
    expect(failed!.error).toMatch(/^truncated\.csv\.gz: .*end of file/);
  });

  it('sends bad rows to dead_letters naming file and line, and loads the rest', async () => {
    await waitFor(async () => (await doneLoads('bad')) === 2, 'bad files handled');
    const dead = await deadLines('bad', 'bad.csv');
    expect(dead.map((d) => d.offset)).toEqual([3, 4, 5, 6, 7]);
    expect(dead.map((d) => d.reason)).toEqual([
      'bad.csv:3: BilledCost = "one dollar": not a decimal number',
      'bad.csv:4: BilledCost is null, FOCUS requires a value',
      expect.stringMatching(/^bad\.csv:5: Tags = "\{not json": not JSON/),
      'bad.csv:6: 7 fields, the header has 12',
      'bad.csv:7: ChargePeriodStart = "2024-09-31 00:00:00": not an ISO 8601 date-time',
    ]);
    await waitFor(async () => (await loaded('bad', 'bad.csv')).n >= 2, 'good rows of bad.csv');
    expect(await loaded('bad', 'bad.csv')).toEqual({
      n: 2,
      billed: scaled('1.500000000001', scale),
      effective: scaled('-3.50', scale),
    });
    const [tags] = await db.rows<{ Tags: Record<string, string> }>(
      `SELECT Tags FROM billing_focus WHERE SourceFile = 'bad.csv' AND SourceLine = 2`,
    );
    expect(tags!.Tags).toEqual({ team: 'a', n: '3' });
    const notFocus = await deadLines('bad', 'not-focus.csv');
    expect(notFocus).toEqual([
      {
        offset: 0,
        // Under `auto` the message goes on to say no native format matched either.
        reason: expect.stringMatching(
          /^not-focus\.csv: not a FOCUS file: header lacks BilledCost, EffectiveCost, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart, ChargePeriodEnd, ChargeCategory(;|$)/,
        ),
      },
    ]);
    // The source reports what it saw.
    const res = await fetch(`http://${runtime!.httpAddress}/api/v1/sources`);
    const { sources } = (await res.json()) as {
      sources: { name: string; accepted: number; rejected: number }[];
    };
    expect(sources.find((s) => s.name === 'bad')).toMatchObject({ accepted: 2, rejected: 6 });
  });
});

describe('the FOCUS parser on hostile input', () => {
  const sample = readText(join(FOCUS_DIR, 'focus_sample.csv'));

  async function run(text: string | Buffer) {
    let lines = 0;
    let problems = 0;
    try {
      for await (const b of parseFocusCsv(Readable.from([text]), {
        sourceName: 's',
        sourceFile: 'f.csv',
        batchSize: 100,
      })) {
        lines += b.lines.length;
        problems += b.problems.length;
      }
    } catch (err) {
      // The only thing allowed out: a refusal of the whole file, naming it.
      expect(err).toBeInstanceOf(FocusFileError);
      expect((err as Error).message).toMatch(/^f\.csv: /);
      return { lines, problems, refused: true };
    }
    return { lines, problems, refused: false };
  }

  it('keeps every good record of a file cut at any line boundary', async () => {
    const ends = [...sample.matchAll(/\n/g)].map((m) => m.index + 1);
    // Every cut in the first 150 lines, then every 97th line to the end.
    const cuts = Array.from({ length: ends.length }, (_, i) => i + 1).filter((k) => k <= 150 || k % 97 === 0);
    for (const k of cuts) {
      const r = await run(sample.slice(0, ends[k - 1]));
      expect(r).toEqual({ lines: k - 1, problems: 0, refused: false });
    }
  });

  it('survives thousands of random cuts, byte flips and junk without a crash', async () => {
    const head = sample.slice(0, 30_000);
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = '",\n\r{}:NULL0123456789.-eE abc\u00e9\ufeff';
    for (let i = 0; i < 3000; i++) {
      let text: string;
      const mode = i % 3;
      if (mode === 0) text = head.slice(0, rnd(head.length));
      else if (mode === 1) {
        const chars = [...head];
        for (let j = 0; j < 20; j++) chars[rnd(chars.length)] = alphabet[rnd(alphabet.length)]!;
        text = chars.join('');
      } else text = Array.from({ length: rnd(400) }, () => alphabet[rnd(alphabet.length)]).join('');
      const r = await run(text);
      expect(r.lines + r.problems).toBeGreaterThanOrEqual(0);
    }
  });
});
