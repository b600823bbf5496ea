import { LineCaches, REQUIRED_COLUMNS, readHeader, toBillingLine } from '../focus.ts';
import type { BillingFormatReader, NativeRecord, NativeValue, RecordMapper } from './types.ts';

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

/** parseTags(JSON.stringify(record)) without the text: strings kept, anything else as JSON. */
function tagsOf(record: NativeRecord): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) tags[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return tags;
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
    const caches = new LineCaches();
    const row: string[] = new Array<string>(columns.length);
    const tagsAt = header.kinds.indexOf('tags');
    const byPosition = (values: readonly NativeValue[], line: number) => {
      for (let i = 0; i < columns.length; i++) row[i] = asText(values[i]);
      // A Tags map that is already a record (Parquet MAP) is converted as parseTags would read
      // its JSON text, without writing and parsing that text (a large share of a Parquet row).
      const tags = tagsAt < 0 ? undefined : values[tagsAt];
      if (tags === null || typeof tags !== 'object' || Array.isArray(tags))
        return toBillingLine(header, row, caches, ctx, line);
      row[tagsAt] = '';
      const out = toBillingLine(header, row, caches, ctx, line);
      if (typeof out !== 'string') out.Tags = tagsOf(tags);
      return out;
    };
    const values: NativeValue[] = new Array<NativeValue>(columns.length);
    const mapper: RecordMapper = (record, line) => {
      for (let i = 0; i < columns.length; i++) values[i] = record[columns[i]!] ?? null;
      return byPosition(values, line);
    };
    mapper.byPosition = byPosition;
    return mapper;
  },
};
