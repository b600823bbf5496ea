import { criticalityOf } from '../store/cmdb.ts';
import type { Ci } from '../engine/model.ts';
import { relationType } from './relation-type.ts';
import { emptyParse, type CmdbParse } from './types.ts';
import { isRecord, snDisplay, readSnRecords, snValue, type SnRecord } from './servicenow-values.ts';

/**
 * A ServiceNow CMDB export: cmdb_ci* records (sys_id, name, sys_class_name, criticality,
 * owner, environment, addresses) and cmdb_rel_ci records (parent, child, type "Depends
 * on::Used by"). A record with parent and child is a relation, anything else a CI.
 */

// Fields that become columns; the rest of a CI's scalar fields are kept as attributes.
const CI_COLUMNS = new Set([
  'sys_id',
  'name',
  'sys_class_name',
  'busines_criticality',
  'business_criticality',
  'owned_by',
  'support_group',
  'assignment_group',
  'managed_by_group',
  'environment',
  'u_environment',
  'service',
  'u_service',
  'business_service',
]);
// Noise on every exported record.
const SKIP = new Set([
  'sys_updated_on',
  'sys_updated_by',
  'sys_created_on',
  'sys_created_by',
  'sys_mod_count',
  'sys_tags',
  'sys_domain',
  'sys_domain_path',
]);
const SERVICE_CLASSES = /^cmdb_ci_(service|service_auto|service_discovered|service_calculated|appl)/;

export function parseServiceNowCmdb(text: string, file: string): CmdbParse {
  const out = emptyParse();
  const records = readSnRecords(text, file, out.errors);
  if (!records) return out;
  for (const { label, record } of records) {
    const err = (m: string) => out.errors.push(`${file}: ${label}: ${m}`);
    if (!isRecord(record)) {
      err('not an object');
      continue;
    }
    if ('parent' in record || 'child' in record) {
      const rel = relation(record);
      if (typeof rel === 'string') err(rel);
      else out.relations.push(rel);
      continue;
    }
    const ci = toCi(record);
    if (typeof ci === 'string') {
      err(ci);
      const id = snValue(record, 'sys_id');
      if (id) out.keepIds.push(id);
    } else out.cis.push(ci);
  }
  return out;
}

function toCi(r: SnRecord): Ci | string {
  const id = snValue(r, 'sys_id');
  const name = snDisplay(r, 'name');
  if (!id) return `no sys_id${name ? ` (name ${name})` : ''}`;
  if (!name) return `CI ${id} has no name`;
  const sysClass = snValue(r, 'sys_class_name') || 'cmdb_ci';
  const attributes: Record<string, string> = { sys_class_name: sysClass };
  for (const k of Object.keys(r)) {
    if (CI_COLUMNS.has(k) || SKIP.has(k)) continue;
    const s = snDisplay(r, k);
    if (s) attributes[k] = s;
  }
  const rawCrit = snDisplay(r, 'busines_criticality', 'business_criticality');
  const criticality =
    criticalityOf(rawCrit) ?? criticalityOf(snValue(r, 'busines_criticality', 'business_criticality'));
  const service =
    snDisplay(r, 'u_service', 'service', 'business_service') || (SERVICE_CLASSES.test(sysClass) ? name : '');
  const ownerGroup = snDisplay(r, 'support_group', 'owned_by', 'assignment_group', 'managed_by_group');
  const environment = snDisplay(r, 'environment', 'u_environment');
  return {
    id,
    name,
    class: sysClass === 'cmdb_ci' ? 'ci' : sysClass.replace(/^cmdb_ci_/, ''),
    ...(service ? { service } : {}),
    ...(ownerGroup ? { ownerGroup } : {}),
    ...(environment ? { environment: environment.toLowerCase() } : {}),
    ...(criticality ? { criticality } : {}),
    attributes,
  };
}

function relation(r: SnRecord): { parent: string; child: string; type: string } | string {
  const parent = snValue(r, 'parent');
  const child = snValue(r, 'child');
  if (!parent) return 'relation without parent';
  if (!child) return 'relation without child';
  const display = snDisplay(r, 'type');
  if (!display) return `relation ${parent} -> ${child} has no type`;
  if (!display.includes('::') && /^[0-9a-f]{32}$/.test(display))
    return `relation type ${display} is a sys_id: export with sysparm_display_value=all (or true)`;
  const type = relationType(display);
  if (!type) return `relation type ${JSON.stringify(display)} is not readable`;
  return { parent, child, type };
}
