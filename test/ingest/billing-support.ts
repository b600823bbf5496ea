import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import type { BillingSourceConfig } from '../../core/config/ingest/billing.ts';
import { startIngestRole } from '../../ingest/role.ts';
import type { BillingDirectorySource } from '../../ingest/billing/source.ts';

/** Billing tests: the real pipeline (runtime + ingest role, in-process bus) and exact decimal sums. */

export const FOCUS_DIR = '/work/shared/data/focus';

export async function startPipeline(
  clickhouseUrl: string,
  database: string,
  billing: Partial<BillingSourceConfig>[],
): Promise<Runtime> {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  const input: ConfigInput = {
    clickhouse: { url: clickhouseUrl, database },
    http: { addr: '127.0.0.1:0' },
    writer: { maxAgeMs: 200 },
    ingest: { billing: billing as NonNullable<NonNullable<ConfigInput['ingest']>['billing']> },
  };
  return startRuntime(configSchema.parse(input), { ingest: startIngestRole }, ['ingest']);
}

/**
 * Decimal text (plain, or with an exponent as shortest round-trip doubles print) -> integer
 * scaled by 10^scale, truncating further digits (as Decimal columns do).
 */
export function scaled(text: string, scale: number): bigint {
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const digits = (m[2] || '0') + (m[3] ?? '');
  // Position of the decimal point within `digits`, moved by the exponent.
  const point = (m[2] || '0').length + Number(m[4] ?? 0);
  const shifted = point + scale;
  const whole =
    shifted <= 0 ? '0' : (digits + '0'.repeat(Math.max(0, shifted - digits.length))).slice(0, shifted);
  const v = BigInt(whole || '0');
  return m[1] === '-' ? -v : v;
}

export interface FileFacts {
  /** Data records with their first line number. */
  records: { line: number; row: Record<string, string> }[];
}

/** The file read independently of the product (csv-parse sync, whole file: these are small). */
export function fileFacts(text: string): FileFacts {
  const rows = parse(text, { columns: true, skip_empty_lines: true, info: true, bom: true }) as {
    record: Record<string, string>;
    info: { lines: number };
  }[];
  // None of the sample files has a field spanning lines, so a record starts on the line it ends.
  return { records: rows.map((r) => ({ line: r.info.lines, row: r.record })) };
}

export function sumColumn(rows: Record<string, string>[], column: string, scale: number): bigint {
  return rows.reduce((acc, r) => acc + scaled(r[column] ?? '0', scale), 0n);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export type { BillingDirectorySource };
