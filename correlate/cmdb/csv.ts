import { parse } from 'csv-parse/sync';
import { criticalityOf } from '../store/cmdb.ts';
import { relationType } from './relation-type.ts';
import { emptyParse, type CmdbParse } from './types.ts';

/**
 * CMDB as CSV: a CI file (id,name,class,service,owner_group,environment,criticality; any
 * other column becomes an attribute) or a relations file (parent,child,type), told apart by
 * the header. Comma or semicolon separated; errors name the line.
 */

// Accepted header names per column, first the canonical one.
const CI_ALIASES: Record<string, string[]> = {
  id: ['id', 'ci_id', 'sys_id', 'ci'],
  name: ['name', 'ci_name'],
  class: ['class', 'ci_class', 'sys_class_name', 'type'],
  service: ['service', 'service_name', 'service.name'],
  owner_group: ['owner_group', 'owner', 'support_group', 'owned_by', 'team'],
  environment: ['environment', 'env'],
  criticality: ['criticality', 'business_criticality', 'busines_criticality'],
};

type Row = { record: string[]; info: { lines: number } };

export function isRelationsHeader(header: string[]): boolean {
  const h = header.map((c) => c.trim().toLowerCase());
  return h.includes('parent') && h.includes('child');
}

export function parseCmdbCsv(text: string, file: string): CmdbParse {
  const out = emptyParse();
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
  const delimiter = (firstLine.match(/;/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  let rows: Row[];
  try {
    rows = parse(text, {
      info: true,
      bom: true,
      delimiter,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
    }) as unknown as Row[];
  } catch (e) {
    out.errors.push(`${file}: ${(e as Error).message}`);
    return out;
  }
  const header = rows.shift()?.record.map((c) => c.trim().toLowerCase());
  if (!header) {
    out.errors.push(`${file}: empty file`);
    return out;
  }
  if (isRelationsHeader(header)) relations(header, rows, file, out);
  else cis(header, rows, file, out);
  return out;
}

function relations(header: string[], rows: Row[], file: string, out: CmdbParse) {
  const [p, c, t] = ['parent', 'child', 'type'].map((n) => header.indexOf(n));
  for (const { record, info } of rows) {
    const at = `${file}: line ${info.lines}`;
    const parent = record[p!] ?? '';
    const child = record[c!] ?? '';
    const type = t! >= 0 ? (record[t!] ?? '') : '';
    if (!parent) out.errors.push(`${at}: no parent`);
    else if (!child) out.errors.push(`${at}: no child`);
    else
      out.relations.push({
        parent,
        child,
        // "Depends on::Used by" as ServiceNow writes it, or depends_on already.
        type: relationType(type || 'depends_on'),
      });
  }
}

function cis(header: string[], rows: Row[], file: string, out: CmdbParse) {
  const col: Record<string, number> = {};
  for (const [canonical, aliases] of Object.entries(CI_ALIASES)) {
    const i = header.findIndex((h) => aliases.includes(h));
    if (i >= 0) col[canonical] = i;
  }
  if (col.id === undefined && col.name === undefined) {
    out.errors.push(`${file}: line 1: the header has neither an id nor a name column (nor parent,child)`);
    return;
  }
  const known = new Set(Object.values(col));
  for (const { record, info } of rows) {
    const at = `${file}: line ${info.lines}`;
    const get = (k: string) => (col[k] === undefined ? '' : (record[col[k]!] ?? ''));
    const id = get('id');
    const name = get('name');
    if (!id) {
      out.errors.push(`${at}: no id${name ? ` (name ${name})` : ''}`);
      continue;
    }
    if (!name) {
      out.errors.push(`${at}: CI ${id} has no name`);
      out.keepIds.push(id);
      continue;
    }
    const attributes: Record<string, string> = {};
    header.forEach((h, i) => {
      const v = record[i];
      if (!known.has(i) && h && v) attributes[h] = v;
    });
    const criticality = criticalityOf(get('criticality'));
    const service = get('service');
    const ownerGroup = get('owner_group');
    const environment = get('environment');
    out.cis.push({
      id,
      name,
      class: get('class') || 'ci',
      ...(service ? { service } : {}),
      ...(ownerGroup ? { ownerGroup } : {}),
      ...(environment ? { environment: environment.toLowerCase() } : {}),
      ...(criticality ? { criticality } : {}),
      attributes,
    });
  }
}
