import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configSchema } from '../../core/config/schema.ts';
import { maskSecrets } from '../../core/config/load.ts';
import type { S3BillingConfig } from '../../core/config/ingest/billing.ts';
import type { Runtime } from '../../core/runtime.ts';
import type { SourceContext } from '../../ingest/source.ts';
import { BillingSource } from '../../ingest/billing/source.ts';
import { S3Store } from '../../ingest/billing/store-s3.ts';
import type { FetchedFile, StoredFile } from '../../ingest/billing/store.ts';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3Server } from '../support/s3.ts';
import { quiet, testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';
import { FOCUS_DIR, fileFacts, readText, scaled, startPipeline, sumColumn } from './billing-support.ts';

/**
 * The billing source on an S3 bucket prefix served by a real MinIO: each object loads once, a
 * replaced object restates its billing period, and the server dying in the middle of a poll is
 * an error in the source state, retried at the next poll without losing or doubling rows.
 */

const HEADER =
  'BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ListCost,ServiceName,ProviderName,BillingCurrency';

function focus(month: string, costs: string[]): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  const rows = costs.map(
    (c, i) =>
      `${month}-01T00:00:00Z,${next}-01T00:00:00Z,${month}-02T${String(i % 24).padStart(2, '0')}:00:00Z,` +
      `${month}-02T${String((i % 24) + 1).padStart(2, '0')}:00:00Z,Usage,${c},${c},${c},EC2,AWS,USD`,
  );
  return `${HEADER}\n${rows.join('\n')}\n`;
}

const BUCKET = 'billing';
const PREFIX = 'exports/focus/';
let s3: S3Server;
let client: S3Client;
let db: TestDatabase;
let runtime: Runtime | undefined;
let source: BillingSource | undefined;
let dataDir: string;
let scale: number;

/** Kills the server just before downloading `key`, once: the listing of that poll succeeded. */
class DyingStore extends S3Store {
  killBefore: string | undefined;
  override async fetch(file: StoredFile): Promise<FetchedFile> {
    if (file.key === this.killBefore) {
      this.killBefore = undefined;
      await s3.kill();
    }
    return super.fetch(file);
  }
}
let store: DyingStore;

const put = (key: string, body: string | Buffer) =>
  client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

beforeAll(async () => {
  s3 = await startS3Server();
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  db = await testDatabase(inject('clickhouseUrl'), 'billing_s3');
  const [col] = await db.rows<{ type: string }>(
    `SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'billing_focus' AND name = 'BilledCost'`,
  );
  scale = Number(/Decimal\(\d+, (\d+)\)/.exec(col!.type)![1]);
  // The pipeline (runtime, writer) without configured sources: the test drives its own source.
  runtime = await startPipeline(inject('clickhouseUrl'), db.database, []);
  dataDir = mkdtempSync(join(tmpdir(), 'opsight-billing-s3-'));
}, 30 * 60_000);

afterAll(async () => {
  await source?.stop();
  await runtime?.stop();
  await db?.drop();
  client?.destroy();
  await s3?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function config(): S3BillingConfig {
  const parsed = configSchema.parse({
    ingest: {
      billing: [
        {
          name: 'bucket',
          kind: 's3',
          bucket: BUCKET,
          prefix: PREFIX,
          endpoint: s3.endpoint,
          forcePathStyle: true,
          accessKeyId: S3_ACCESS_KEY,
          secretAccessKey: S3_SECRET_KEY,
          // Polled by the test, not by the timer.
          intervalSeconds: 3600,
        },
      ],
    },
  });
  return parsed.ingest.billing[0] as S3BillingConfig;
}

/** Every billing_loads row of the source: a reload would add rows here. */
const loadRows = () => db.scalar(`SELECT count() FROM billing_loads WHERE source = 'bucket'`);
const loadsOf = (key: string) =>
  db.rows<{ status: string; etag: string }>(
    `SELECT toString(status) AS status, etag FROM billing_loads WHERE source = 'bucket' AND path = '${key}' ORDER BY at`,
  );

async function stored(where: string) {
  const [r] = await db.rows<{ n: number; billed: string }>(
    `SELECT count() AS n, toString(sum(BilledCost)) AS billed FROM billing_focus WHERE SourceName = 'bucket' AND ${where}`,
  );
  return { n: Number(r!.n), billed: scaled(r!.billed, scale) };
}

const month = (m: string) => `BillingPeriodStart = '${m}-01 00:00:00'`;
const dec = (text: string) => scaled(text, scale);

describe('billing source on an S3 bucket (MinIO)', () => {
  it('lists every page, loads each object once, with the file’s exact rows and cost', async () => {
    const sample = readText(join(FOCUS_DIR, 'focus_sample.csv'));
    await put(`${PREFIX}focus_sample.csv`, sample);
    await put(`${PREFIX}2023-01.csv`, focus('2023-01', ['1.25', '2.5', '3']));
    await put(`${PREFIX}2023-02.csv`, focus('2023-02', ['7']));
    await put(`${PREFIX}README.txt`, 'not billing');
    await put('elsewhere/2023-01.csv', focus('2023-01', ['1000']));

    const cfg = config();
    // Two keys a page: four keys under the prefix take two ListObjectsV2 pages.
    store = new DyingStore(cfg, dataDir, 2);
    source = new BillingSource(cfg, store);
    const ctx = {
      config: configSchema.parse({}),
      bus: runtime!.bus,
      clickhouse: runtime!.clickhouse,
      log: quiet,
    } as Omit<SourceContext, 'http'> as SourceContext;
    await source.start(ctx);
    await source.poll();
    expect(source.failedPolls).toBe(0);
    expect((await loadsOf('focus_sample.csv')).map((l) => l.status)).toEqual(['loading', 'done']);
    expect((await loadsOf('README.txt')).length).toBe(0);

    const { records } = fileFacts(sample);
    const want = {
      n: records.length,
      billed: sumColumn(
        records.map((r) => r.row),
        'BilledCost',
        scale,
      ),
    };
    await waitFor(
      async () => (await stored(`SourceFile = 'focus_sample.csv'`)).n >= want.n,
      'sample rows',
      90_000,
    );
    expect(await stored(`SourceFile = 'focus_sample.csv'`)).toEqual(want);
    await waitFor(async () => (await stored(month('2023-02'))).n === 1, 'October');
    expect(await stored(month('2023-01'))).toEqual({ n: 3, billed: dec('6.75') });
    // The object outside the prefix was not loaded.
    expect(await db.scalar(`SELECT count() FROM billing_focus WHERE BilledCost >= 1000`)).toBe(0);
    expect(source.state().received).toBe(want.n + 4);

    // A second poll finds nothing new: no load recorded, no row published.
    const before = await loadRows();
    await source.poll();
    expect(await loadRows()).toBe(before);
    expect(source.state().received).toBe(want.n + 4);
  });

  it('replaces the billing period of an object replaced by a corrected export', async () => {
    const [first] = await loadsOf('2023-01.csv');
    await put(`${PREFIX}2023-01.csv`, focus('2023-01', ['10', '20.125']));
    await source!.poll();
    const loads = await loadsOf('2023-01.csv');
    expect(loads.map((l) => l.status)).toEqual(['loading', 'done', 'loading', 'done']);
    expect(loads.at(-1)!.etag).not.toBe(first!.etag);
    await waitFor(async () => (await stored(month('2023-01'))).n === 2, 'restated September');
    expect(await stored(month('2023-01'))).toEqual({ n: 2, billed: dec('30.125') });
    expect(await stored(month('2023-02'))).toEqual({ n: 1, billed: dec('7') });
  });

  it('counts a server gone mid-poll as an error and finishes at the next poll, nothing lost or doubled', async () => {
    await put(`${PREFIX}2023-03.csv`, focus('2023-03', ['1', '1']));
    await put(`${PREFIX}2023-04.csv`, focus('2023-04', ['2', '2', '2']));
    store.killBefore = '2023-04.csv';
    await source!.poll();
    expect(s3.running).toBe(false);
    expect(source!.failedPolls).toBe(1);
    const error = source!.state().lastError!;
    expect(error.message).toContain(`s3://${BUCKET}/${PREFIX}`);
    expect(error.message).not.toContain(S3_SECRET_KEY);
    expect((await loadsOf('2023-03.csv')).map((l) => l.status)).toEqual(['loading', 'done']);
    expect(await loadsOf('2023-04.csv')).toEqual([]);

    // Still down at the next poll: the listing fails, counted again.
    await source!.poll();
    expect(source!.failedPolls).toBe(2);

    await s3.start();
    await source!.poll();
    expect(source!.failedPolls).toBe(2);
    expect((await loadsOf('2023-03.csv')).length).toBe(2);
    expect((await loadsOf('2023-04.csv')).map((l) => l.status)).toEqual(['loading', 'done']);
    await waitFor(async () => (await stored(month('2023-04'))).n === 3, 'December');
    expect(await stored(month('2023-03'))).toEqual({ n: 2, billed: dec('2') });
    expect(await stored(month('2023-04'))).toEqual({ n: 3, billed: dec('6') });
    const sample = fileFacts(readText(join(FOCUS_DIR, 'focus_sample.csv'))).records.length;
    expect(await stored('1')).toEqual({
      n: sample + 2 + 1 + 2 + 3,
      billed:
        sumColumn(
          fileFacts(readText(join(FOCUS_DIR, 'focus_sample.csv'))).records.map((r) => r.row),
          'BilledCost',
          scale,
        ) +
        dec('30.125') +
        dec('7') +
        dec('2') +
        dec('6'),
    });
  });

  it('a deleted object leaves its rows; its temp copies are gone', async () => {
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}2023-02.csv` }));
    const before = await loadRows();
    await source!.poll();
    expect(await loadRows()).toBe(before);
    expect(await stored(month('2023-02'))).toEqual({ n: 1, billed: dec('7') });
    const tmp = join(dataDir, 'tmp', 'billing-bucket');
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  });

  it('masks the secret key in the printed config', () => {
    const shown = JSON.stringify(maskSecrets(config()));
    expect(shown).not.toContain(S3_SECRET_KEY);
    expect(shown).toContain(S3_ACCESS_KEY);
  });
});
