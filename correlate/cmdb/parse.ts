import { parseBackstage } from './backstage.ts';
import { parseCmdbCsv } from './csv.ts';
import { parseServiceNowCmdb } from './servicenow.ts';
import { CMDB_FORMATS, type CmdbFormat, type CmdbParse } from './types.ts';

/**
 * Which importer reads a file: `format` when given, else the extension (.json, .csv,
 * .yaml/.yml), else the content (JSON starts with [ or {, Backstage has apiVersion/kind).
 */
export function detectCmdbFormat(file: string, text: string, format?: string): CmdbFormat {
  if (format) {
    if (!(CMDB_FORMATS as readonly string[]).includes(format))
      throw new Error(`unknown CMDB format ${JSON.stringify(format)}: ${CMDB_FORMATS.join(', ')}`);
    return format as CmdbFormat;
  }
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (ext === 'json') return 'servicenow';
  if (ext === 'csv' || ext === 'tsv') return 'csv';
  if (ext === 'yaml' || ext === 'yml') return 'backstage';
  const head = text.trimStart();
  if (head.startsWith('{') || head.startsWith('[')) return 'servicenow';
  if (/^(---\s*\n)?\s*(apiVersion|kind)\s*:/m.test(head.slice(0, 4096))) return 'backstage';
  return 'csv';
}

export function parseCmdb(text: string, file: string, format: CmdbFormat): CmdbParse {
  switch (format) {
    case 'servicenow':
      return parseServiceNowCmdb(text, file);
    case 'csv':
      return parseCmdbCsv(text, file);
    case 'backstage':
      return parseBackstage(text, file);
  }
}
