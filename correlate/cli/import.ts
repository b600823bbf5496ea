import { readFile, stat } from 'node:fs/promises';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { importCmdbText } from '../cmdb/import.ts';
import { parseServiceNowChanges } from '../changes/servicenow.ts';
import { storeChanges } from '../changes/store.ts';
import { importKedbText } from '../kedb/import.ts';

/**
 * `opsight cmdb import`, `opsight changes import`, `opsight kedb import`: read one export file
 * and store it. Each returns what was accepted and rejected, with one message per rejected
 * record naming the file and the record (index) or line.
 */

export interface ImportSummary {
  accepted: number;
  rejected: number;
  errors: string[];
  /** One line for people: format, source, what was retracted. */
  detail: string;
}

/** Exports are read whole; bigger than this is no CMDB export. */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;

export class ImportUsageError extends Error {}

const SOURCE = /^[A-Za-z0-9_.:-]{1,100}$/;

async function readExport(file: string): Promise<string> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new ImportUsageError(`${file}: cannot read (${e.code ?? e.message})`);
  });
  if (!st.isFile()) throw new ImportUsageError(`${file}: not a regular file`);
  if (st.size > MAX_IMPORT_BYTES)
    throw new ImportUsageError(
      `${file}: ${st.size} bytes; exports are read whole, up to ${MAX_IMPORT_BYTES}`,
    );
  return readFile(file, 'utf8');
}

function checkSource(source: string | undefined): void {
  if (source !== undefined && !SOURCE.test(source))
    throw new ImportUsageError(`--source ${JSON.stringify(source)}: letters, digits and _.:- only`);
}

export async function cmdbImport(
  clickhouse: ClickHouseClient,
  file: string,
  o: { format?: string; source?: string } = {},
): Promise<ImportSummary> {
  checkSource(o.source);
  const text = await readExport(file);
  let r;
  try {
    r = await importCmdbText(clickhouse, text, file, o);
  } catch (e) {
    if (/unknown CMDB format/.test((e as Error).message)) throw new ImportUsageError((e as Error).message);
    throw e;
  }
  return {
    accepted: r.accepted,
    rejected: r.rejected,
    errors: r.errors,
    detail:
      `${r.format}, source ${r.source}: ${r.cis} CIs and ${r.relations} relations stored, ` +
      `${r.retractedCis} CIs and ${r.retractedRelations} relations retracted`,
  };
}

export async function kedbImport(
  clickhouse: ClickHouseClient,
  file: string,
  o: { format?: string; source?: string } = {},
): Promise<ImportSummary> {
  checkSource(o.source);
  const text = await readExport(file);
  let r;
  try {
    r = await importKedbText(clickhouse, text, file, o);
  } catch (e) {
    if (/unknown KEDB format/.test((e as Error).message)) throw new ImportUsageError((e as Error).message);
    throw e;
  }
  return {
    accepted: r.accepted,
    rejected: r.rejected,
    errors: r.errors,
    detail:
      `${r.format}, source ${r.source}: ${r.accepted} known errors stored, ${r.retracted} retracted` +
      (r.skipped ? `, ${r.skipped} records that are no known error skipped` : ''),
  };
}

export async function changesImport(
  clickhouse: ClickHouseClient,
  file: string,
  o: { source?: string } = {},
): Promise<ImportSummary> {
  checkSource(o.source);
  const text = await readExport(file);
  const { changes, errors } = parseServiceNowChanges(text, file);
  const stored = await storeChanges(clickhouse, o.source ?? 'servicenow', changes);
  return {
    accepted: stored.length,
    rejected: errors.length,
    errors,
    detail: `servicenow change_request, source ${o.source ?? 'servicenow'}: ${stored.length} changes stored`,
  };
}
