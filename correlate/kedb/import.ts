import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { parseKedbServiceNow } from './servicenow.ts';
import { storeKedb } from './store.ts';
import { KEDB_FORMATS, type KedbFormat } from './types.ts';
import { parseKedbYaml } from './yaml.ts';

export interface KedbImportResult {
  format: KedbFormat;
  source: string;
  accepted: number;
  rejected: number;
  skipped: number;
  retracted: number;
  errors: string[];
}

/**
 * A ServiceNow export is JSON whose records carry ServiceNow fields (number,
 * short_description, sys_id); anything else (YAML, or JSON in opsight's own shape) is the
 * YAML format.
 */
export function detectKedbFormat(file: string, text: string, format?: string): KedbFormat {
  if (format) {
    if (!(KEDB_FORMATS as readonly string[]).includes(format))
      throw new Error(`unknown KEDB format ${JSON.stringify(format)}: ${KEDB_FORMATS.join(', ')}`);
    return format as KedbFormat;
  }
  const head = text.trimStart();
  if (
    (/\.json$/i.test(file) || head.startsWith('{') || head.startsWith('[')) &&
    /"(number|short_description|sys_id)"\s*:/.test(text)
  )
    return 'servicenow';
  return 'yaml';
}

export async function importKedbText(
  client: ClickHouseClient,
  text: string,
  file: string,
  o: { format?: string; source?: string } = {},
): Promise<KedbImportResult> {
  const format = detectKedbFormat(file, text, o.format);
  const source = o.source || format;
  const parsed = format === 'servicenow' ? parseKedbServiceNow(text, file) : parseKedbYaml(text, file);
  const { retracted } = await storeKedb(client, source, parsed);
  return {
    format,
    source,
    accepted: parsed.knownErrors.length,
    rejected: parsed.errors.length,
    skipped: parsed.skipped,
    retracted,
    errors: parsed.errors,
  };
}
