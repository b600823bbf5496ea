import { DateNormalizer, REQUIRED_COLUMNS, readHeader, toBillingLine } from '../focus.ts';
import type { BillingFormatReader, NativeValue } from './types.ts';

/**
 * FOCUS itself, for records from any container (Parquet, JSON lines). FOCUS CSV keeps its
 * own faster path (../focus.ts parseFocusCsv); both end in the same toBillingLine, so a
 * Parquet file yields the same lines as the CSV of the same data.
 */

const SIGNATURE = [...REQUIRED_COLUMNS, 'ProviderName', 'BillingCurrency', 'ListCost', 'ServiceName'];

/** A Parquet/JSON value as the text the CSV would have held (Tags: JSON object text). */
function asText(v: NativeValue | undefined): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const focusReader: BillingFormatReader = {
  format: 'focus',
  detect(columns) {
    const have = new Set(columns.map((c) => c.trim().toLowerCase()));
    const lower = SIGNATURE.map((c) => c.toLowerCase());
    if (!REQUIRED_COLUMNS.every((c) => have.has(c.toLowerCase()))) return 0;
    return lower.filter((c) => have.has(c)).length / lower.length;
  },
  open(columns, ctx) {
    const header = readHeader([...columns], ctx.sourceFile);
    const dates = new DateNormalizer();
    const row: string[] = new Array<string>(columns.length);
    return (record, line) => {
      for (let i = 0; i < columns.length; i++) row[i] = asText(record[columns[i]!]);
      return toBillingLine(header, row, dates, ctx, line);
    };
  },
};
