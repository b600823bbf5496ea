import type { KnownError } from '../engine/model.ts';
import { isRecord, snDisplay, readSnRecords, snValue, type SnRecord } from '../cmdb/servicenow-values.ts';
import { emptyKedb, type KedbParse } from './types.ts';

/**
 * Known errors from a ServiceNow export: problem records flagged known_error (or in the
 * "Known Error" state), known_error records, and kb_knowledge articles. Explicit pattern
 * fields (u_patterns, u_alert_patterns, u_symptom_patterns) become matcher patterns, symptom
 * text fields (u_symptoms, symptoms) text symptoms, else the short description; the CI,
 * business service and CI class fields become the scope.
 */

const PATTERN_FIELDS = ['u_patterns', 'u_alert_patterns', 'u_symptom_patterns', 'patterns'];
const SYMPTOM_FIELDS = ['u_symptoms', 'symptoms', 'u_symptom'];
const SCOPE_FIELDS = ['cmdb_ci', 'business_service', 'u_ci_class', 'u_scope', 'service_offering'];

export function parseKedbServiceNow(text: string, file: string): KedbParse {
  const out = emptyKedb();
  const records = readSnRecords(text, file, out.errors);
  if (!records) return out;
  for (const { label, record } of records) {
    if (!isRecord(record)) {
      out.errors.push(`${file}: ${label}: not an object`);
      continue;
    }
    if (!isKnownError(record)) {
      out.skipped++;
      continue;
    }
    const r = toKnownError(record);
    if (typeof r === 'string') {
      out.errors.push(`${file}: ${label}: ${r}`);
      const id = snValue(record, 'number', 'sys_id');
      if (id) out.keepIds.push(id);
    } else out.knownErrors.push(r);
  }
  return out;
}

const truthy = (v: string) => /^(true|1|yes)$/i.test(v);

/** A problem counts when flagged or in a known-error state; other records (KB, known_error) always. */
function isKnownError(r: SnRecord): boolean {
  const cls = snValue(r, 'sys_class_name');
  const number = snValue(r, 'number');
  const isProblem = cls === 'problem' || (!cls && /^PRB/i.test(number));
  if (!isProblem) return true;
  if (truthy(snValue(r, 'known_error'))) return true;
  return /known error/i.test(snDisplay(r, 'problem_state', 'state'));
}

/** Multi-valued text fields: one item per line, comma-separated for short lists. */
function split(v: string): string[] {
  return v
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

const stripHtml = (s: string) =>
  s
    .replace(/<br\s*\/?>|<\/p>|<\/li>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

function toKnownError(r: SnRecord): KnownError | string {
  const id = snValue(r, 'number') || snValue(r, 'sys_id');
  if (!id) return 'no number or sys_id';
  const title = snDisplay(r, 'short_description', 'title', 'u_title');
  if (!title) return `${id}: no short_description`;
  const patterns = PATTERN_FIELDS.flatMap((f) => split(snDisplay(r, f)));
  const texts = SYMPTOM_FIELDS.flatMap((f) => split(stripHtml(snDisplay(r, f))));
  const description = stripHtml(snDisplay(r, 'description'));
  // Text symptoms match by word overlap, so only short text is useful as one.
  if (!texts.length) {
    texts.push(title);
    if (description && description.split(/\s+/).length <= 20) texts.push(description);
  }
  const scope = [
    ...new Set(
      SCOPE_FIELDS.flatMap((f) =>
        snDisplay(r, f)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ),
  ];
  const isProblem = /^PRB/i.test(id) || snValue(r, 'sys_class_name') === 'problem';
  return {
    id,
    title,
    symptoms: [...patterns, ...texts],
    scope,
    workaround: stripHtml(snDisplay(r, 'workaround', 'u_workaround')),
    problemRef: isProblem ? id : snDisplay(r, 'problem', 'problem_id', 'u_problem', 'source'),
    status: (snDisplay(r, 'workflow_state', 'problem_state', 'state') || 'open').toLowerCase(),
  };
}
