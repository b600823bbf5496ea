import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { KnownError } from '../engine/model.ts';
import { emptyKedb, type KedbParse } from './types.ts';

/**
 * The KEDB as YAML or JSON: a list of `{id, title, symptoms: [...], scope: [...], workaround,
 * problem, status}` (or `{known_errors: [...]}`). Symptoms use the matcher's syntax
 * (`alertname=PostgresDown`, `annotation.summary~timeout`, `template:<id>`, or plain text).
 */
export function parseKedbYaml(text: string, file: string): KedbParse {
  const out = emptyKedb();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    out.errors.push(`${file}: line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`);
    return out;
  }
  let list: unknown = doc.contents;
  if (isMap(list)) list = list.get('known_errors', true) ?? list.get('knownErrors', true);
  if (!isSeq(list)) {
    out.errors.push(`${file}: expected a list of known errors (or known_errors: [...])`);
    return out;
  }
  list.items.forEach((item, i) => {
    const node = item as Node | null;
    const line = node?.range ? lines.linePos(node.range[0]).line : undefined;
    const at = `${file}: known error ${i + 1}${line ? ` (line ${line})` : ''}`;
    const r = knownError(node && typeof node.toJSON === 'function' ? (node.toJSON() as unknown) : item);
    if (typeof r === 'string') {
      out.errors.push(`${at}: ${r}`);
      const id = idOf(node?.toJSON?.());
      if (id) out.keepIds.push(id);
    } else out.knownErrors.push(r);
  });
  return out;
}

function idOf(v: unknown): string {
  if (!v || typeof v !== 'object') return '';
  const id = (v as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? String(id).trim() : '';
}

const text = (v: unknown): string =>
  typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';

/** A string or a list of strings; anything else is the name of what is wrong. */
function list(v: unknown, field: string): string[] | string {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v.trim() ? [v.trim()] : [];
  if (!Array.isArray(v)) return `${field}: expected a list of strings`;
  const out: string[] = [];
  for (const [i, x] of v.entries()) {
    if (typeof x !== 'string' && typeof x !== 'number') return `${field}[${i}]: expected a string`;
    if (String(x).trim()) out.push(String(x).trim());
  }
  return out;
}

export function knownError(v: unknown): KnownError | string {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a mapping';
  const o = v as Record<string, unknown>;
  const id = idOf(o);
  if (!id) return 'id: missing';
  const title = text(o.title) || text(o.name);
  if (!title) return `${id}: title: missing`;
  const symptoms = list(o.symptoms, 'symptoms');
  if (typeof symptoms === 'string') return `${id}: ${symptoms}`;
  const patterns = list(o.patterns, 'patterns');
  if (typeof patterns === 'string') return `${id}: ${patterns}`;
  const all = [...patterns, ...symptoms];
  if (!all.length) return `${id}: symptoms: at least one symptom is needed to match anything`;
  const scope = list(o.scope, 'scope');
  if (typeof scope === 'string') return `${id}: ${scope}`;
  return {
    id,
    title,
    symptoms: all,
    scope,
    workaround: text(o.workaround),
    problemRef: text(o.problem) || text(o.problem_ref) || text(o.problemRef),
    status: text(o.status) || 'open',
  };
}
