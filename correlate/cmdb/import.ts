import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { detectCmdbFormat, parseCmdb } from './parse.ts';
import { storeCmdb, type StoreResult } from './store.ts';
import type { CmdbFormat } from './types.ts';

export interface CmdbImportResult extends StoreResult {
  format: CmdbFormat;
  source: string;
  accepted: number;
  rejected: number;
  errors: string[];
}

/** Parses one export (named `file` in messages) and stores it as the truth for `source`. */
export async function importCmdbText(
  client: ClickHouseClient,
  text: string,
  file: string,
  o: { format?: string; source?: string } = {},
): Promise<CmdbImportResult> {
  const format = detectCmdbFormat(file, text, o.format);
  const source = o.source || format;
  const parsed = parseCmdb(text, file, format);
  const stored = await storeCmdb(client, source, parsed);
  return {
    format,
    source,
    ...stored,
    accepted: parsed.cis.length + parsed.relations.length,
    rejected: parsed.errors.length,
    errors: parsed.errors,
  };
}
