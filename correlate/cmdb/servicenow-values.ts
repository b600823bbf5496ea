/**
 * Field values as ServiceNow's Table API and JSON exports give them: a plain string, or with
 * sysparm_display_value=all an object `{value, display_value, link}`. References (owned_by,
 * support_group) read best as the display value; keys (sys_id, parent, child) as the value.
 */
export type SnRecord = Record<string, unknown>;

function part(v: unknown, key: 'value' | 'display_value'): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const x = o[key] ?? o[key === 'value' ? 'display_value' : 'value'];
    return typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? String(x).trim() : '';
  }
  return '';
}

/** The stored value (sys_id of a reference). */
export const snValue = (r: SnRecord, ...fields: string[]): string => {
  for (const f of fields) {
    const v = part(r[f], 'value');
    if (v) return v;
  }
  return '';
};

/** The display value (name of a reference), falling back to the value. */
export const snDisplay = (r: SnRecord, ...fields: string[]): string => {
  for (const f of fields) {
    const v = part(r[f], 'display_value');
    if (v) return v;
  }
  return '';
};

/**
 * The records of an export: a bare array, `{result: [...]}` (Table API), `{records: [...]}`
 * (JSONv2), or an object of arrays keyed by table (`{cmdb_ci: [...], cmdb_rel_ci: [...]}`).
 * Each comes with a label for error messages, e.g. `cmdb_ci[3]`.
 */
export function snRecords(doc: unknown): { label: string; record: unknown }[] {
  const out: { label: string; record: unknown }[] = [];
  const add = (name: string, list: unknown[]) =>
    list.forEach((record, i) => out.push({ label: `${name}[${i}]`, record }));
  if (Array.isArray(doc)) add('record', doc);
  else if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      if (Array.isArray(v)) add(k, v);
      else if (v && typeof v === 'object' && Array.isArray((v as { records?: unknown }).records))
        add(k, (v as { records: unknown[] }).records);
    }
  } else throw new Error('expected a JSON array or an object of record arrays');
  return out;
}

export const isRecord = (v: unknown): v is SnRecord => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * The records of an export file, or undefined after pushing why the file is unusable
 * (`file: not JSON (...)`, `file: <shape problem>`) to `errors`.
 */
export function readSnRecords(
  text: string,
  file: string,
  errors: string[],
): ReturnType<typeof snRecords> | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    errors.push(`${file}: not JSON (${(e as Error).message})`);
    return undefined;
  }
  try {
    return snRecords(doc);
  } catch (e) {
    errors.push(`${file}: ${(e as Error).message}`);
    return undefined;
  }
}
