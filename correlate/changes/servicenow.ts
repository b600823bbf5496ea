import type { Change } from '../engine/model.ts';
import { isRecord, snDisplay, snRecords, snValue, type SnRecord } from '../cmdb/servicenow-values.ts';

/**
 * Changes from a ServiceNow change_request export: number, cmdb_ci, the time the work
 * happened (work_start, else start_date, else work_end / end_date / closed_at / opened_at),
 * type, short_description. Times are ServiceNow's internal UTC `YYYY-MM-DD HH:MM:SS` (or ISO).
 * The CI is given as candidates, its sys_id then its name, resolved against the CMDB.
 */

export type ChangeWithCandidates = Change & { ciCandidates: string[] };

const TIME_FIELDS = [
  'work_start',
  'start_date',
  'work_end',
  'end_date',
  'closed_at',
  'opened_at',
  'sys_created_on',
];

/** ServiceNow's `2026-11-23 06:00:00` is UTC; ISO with a zone is taken as written. */
export function snTime(v: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/.exec(v.trim());
  return Date.parse(m ? `${m[1]}T${m[2]}Z` : v);
}

export function parseServiceNowChanges(
  text: string,
  file: string,
): { changes: ChangeWithCandidates[]; errors: string[] } {
  const changes: ChangeWithCandidates[] = [];
  const errors: string[] = [];
  let records;
  try {
    records = snRecords(JSON.parse(text));
  } catch (e) {
    return { changes, errors: [`${file}: ${(e as Error).message}`] };
  }
  for (const { label, record } of records) {
    const r = isRecord(record) ? toChange(record) : 'not an object';
    if (typeof r === 'string') errors.push(`${file}: ${label}: ${r}`);
    else changes.push(r);
  }
  return { changes, errors };
}

function toChange(r: SnRecord): ChangeWithCandidates | string {
  const id = snValue(r, 'number') || snValue(r, 'sys_id');
  if (!id) return 'no number or sys_id';
  const ciValue = snValue(r, 'cmdb_ci');
  const ciName = snDisplay(r, 'cmdb_ci');
  if (!ciValue && !ciName) return `${id}: no cmdb_ci`;
  const field = TIME_FIELDS.find((f) => snValue(r, f));
  if (!field) return `${id}: no time (${TIME_FIELDS.slice(0, 5).join(', ')})`;
  const time = snTime(snValue(r, field));
  if (Number.isNaN(time)) return `${id}: ${field}: ${JSON.stringify(snValue(r, field))} is not a time`;
  const type = snDisplay(r, 'type').toLowerCase();
  return {
    id,
    ci: ciValue || ciName,
    ciCandidates: [...new Set([ciValue, ciName].filter(Boolean))],
    time,
    kind: type ? `${type} change` : 'change',
    description: snDisplay(r, 'short_description'),
    link: snDisplay(r, 'u_link', 'url'),
  };
}
