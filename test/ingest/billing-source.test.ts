import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Runtime } from '../../core/runtime.ts';
import { testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';
import { startPipeline } from './billing-support.ts';

/**
 * The billing directory source on the real pipeline: each file once, identical content never
 * twice, a corrected file replaces its billing period, and a restart reloads nothing.
 */

const HEADER =
  'BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,ListCost,ServiceName,ProviderName,BillingCurrency';

/** A FOCUS file of one billing period (YYYY-MM) with one row per cost. */
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

let db: TestDatabase;
let dir: string;
let runtime: Runtime | undefined;
const SOURCE = { name: 'exports', kind: 'directory' as const, intervalSeconds: 0.3 };

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'billing_src');
  dir = mkdtempSync(join(tmpdir(), 'opsight-billing-src-'));
  mkdirSync(join(dir, '2024-09'));
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const start = () => startPipeline(inject('clickhouseUrl'), db.database, [{ ...SOURCE, path: dir }]);

const handled = () =>
  db.scalar(`SELECT count() FROM billing_loads WHERE source = 'exports' AND status = 'done'`);

async function period(month: string) {
  const [r] = await db.rows<{ n: number; billed: string; files: string[] }>(
    `SELECT count() AS n, toString(sum(BilledCost)) AS billed, groupUniqArray(SourceFile) AS files
     FROM billing_focus WHERE SourceName = 'exports' AND BillingPeriodStart = '${month}-01 00:00:00'`,
  );
  return { n: Number(r!.n), billed: Number(r!.billed), files: r!.files.sort() };
}

async function settle(month: string, n: number) {
  await waitFor(async () => (await period(month)).n === n, `${n} rows in ${month}`);
}

describe('billing directory source', () => {
  it('loads new files once, skips identical content, replaces a restated period', async () => {
    writeFileSync(join(dir, '2024-08.csv'), focus('2024-08', ['5.5']));
    writeFileSync(join(dir, '2024-09/export.csv'), focus('2024-09', ['1', '2', '3']));
    runtime = await start();
    await waitFor(async () => (await handled()) === 2, 'first two files');
    await settle('2024-09', 3);
    expect(await period('2024-09')).toEqual({ n: 3, billed: 6, files: ['2024-09/export.csv'] });

    // The same bytes again: touched in place, and copied under another name.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, '2024-09/export.csv'), later, later);
    copyFileSync(join(dir, '2024-09/export.csv'), join(dir, '2024-09/copy.csv'));
    await waitFor(async () => (await handled()) === 4, 'touched and copied files seen');
    expect(await period('2024-09')).toEqual({ n: 3, billed: 6, files: ['2024-09/export.csv'] });

    // A corrected export for September replaces September, leaves August alone.
    writeFileSync(join(dir, '2024-09/export-v2.csv'), focus('2024-09', ['10', '20']));
    await waitFor(async () => (await handled()) === 5, 'restated file loaded');
    await settle('2024-09', 2);
    expect(await period('2024-09')).toEqual({ n: 2, billed: 30, files: ['2024-09/export-v2.csv'] });
    expect(await period('2024-08')).toEqual({ n: 1, billed: 5.5, files: ['2024-08.csv'] });

    // Corrected in place (same path, new content).
    writeFileSync(join(dir, '2024-09/export-v2.csv'), focus('2024-09', ['11', '21', '31']));
    await waitFor(async () => (await handled()) === 6, 'file rewritten in place loaded');
    await settle('2024-09', 3);
    expect(await period('2024-09')).toEqual({ n: 3, billed: 63, files: ['2024-09/export-v2.csv'] });
  });

  it('reloads nothing after a restart', async () => {
    await runtime!.stop();
    runtime = undefined;
    writeFileSync(join(dir, '2024-10.csv'), focus('2024-10', ['7']));
    runtime = await start();
    await waitFor(async () => (await handled()) === 7, 'the new file after restart');
    await settle('2024-10', 1);
    expect(await period('2024-09')).toEqual({ n: 3, billed: 63, files: ['2024-09/export-v2.csv'] });
    expect(await period('2024-08')).toEqual({ n: 1, billed: 5.5, files: ['2024-08.csv'] });
    expect(await db.scalar(`SELECT count() FROM billing_focus`)).toBe(5);
  });
});
