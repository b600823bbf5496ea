import { LineCounter, parseAllDocuments } from 'yaml';
import type { Ci, CiRelation } from '../engine/model.ts';
import { emptyParse, type CmdbParse } from './types.ts';

/**
 * Backstage catalog descriptors (catalog-info.yaml, several documents per file). Component,
 * System, Resource and API entities become CIs with ids in entity-ref form
 * (`component:default/checkout`); spec.dependsOn, consumesApis and providesApis become
 * relations. Other kinds (Group, User, Location, ...) are not CIs and are skipped.
 */

const KINDS = new Set(['component', 'system', 'resource', 'api']);

/**
 * `[kind:][namespace/]name` → `kind:namespace/name`, lower-cased as Backstage compares refs
 * case-insensitively. A missing kind or namespace takes the given default.
 */
export function entityRef(ref: string, defaultKind: string, defaultNamespace: string): string {
  const m = /^(?:([^:/]+):)?(?:([^:/]+)\/)?([^:/]+)$/.exec(ref.trim());
  if (!m) throw new Error(`entity ref ${JSON.stringify(ref)} is not [kind:][namespace/]name`);
  return `${(m[1] ?? defaultKind).toLowerCase()}:${(m[2] ?? defaultNamespace).toLowerCase()}/${m[3]!.toLowerCase()}`;
}

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && !!x.trim()) : [];

export function parseBackstage(text: string, file: string): CmdbParse {
  const out = emptyParse();
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  if (!Array.isArray(docs)) {
    out.errors.push(`${file}: not YAML documents`);
    return out;
  }
  docs.forEach((doc, i) => {
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const at = `${file}: document ${i + 1} (line ${lines.linePos(start).line})`;
    if (doc.errors.length) {
      out.errors.push(`${at}: ${doc.errors[0]!.message.split('\n')[0]}`);
      return;
    }
    const e = doc.toJS() as unknown;
    if (e === null || e === undefined) return; // an empty document (a trailing ---)
    const r = entity(e);
    if (typeof r === 'string') {
      out.errors.push(`${at}: ${r}`);
      return;
    }
    if (!r) return;
    out.cis.push(r.ci);
    out.relations.push(...r.relations);
  });
  return out;
}

function entity(e: unknown): { ci: Ci; relations: CiRelation[] } | string | undefined {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return 'not a mapping';
  const o = e as { kind?: unknown; metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  const kind = str(o.kind).toLowerCase();
  if (!kind) return 'no kind';
  if (!KINDS.has(kind)) return undefined;
  const meta = o.metadata ?? {};
  const spec = o.spec && typeof o.spec === 'object' ? o.spec : {};
  const name = str(meta.name);
  if (!name) return `${o.kind as string} without metadata.name`;
  const ns = str(meta.namespace) || 'default';
  let id: string;
  try {
    id = entityRef(name, kind, ns);
  } catch (err) {
    return (err as Error).message;
  }
  const attributes: Record<string, string> = { kind: kind };
  const type = str(spec.type);
  if (type) attributes.type = type;
  const system = str(spec.system);
  if (system) attributes.system = system;
  const lifecycle = str(spec.lifecycle);
  if (lifecycle) attributes.lifecycle = lifecycle;
  const title = str(meta.title);
  if (title) attributes.title = title;
  const labels =
    meta.labels && typeof meta.labels === 'object' ? (meta.labels as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(labels)) if (str(v)) attributes[`label.${k}`] = str(v);
  const annotations =
    meta.annotations && typeof meta.annotations === 'object'
      ? (meta.annotations as Record<string, unknown>)
      : {};
  // Kubernetes and PagerDuty annotations are what alerts carry too.
  for (const [k, v] of Object.entries(annotations)) if (str(v)) attributes[`annotation.${k}`] = str(v);
  const owner = str(spec.owner);
  const environment = environmentOf(labels, lifecycle);
  const relations: CiRelation[] = [];
  try {
    for (const ref of strs(spec.dependsOn))
      relations.push({ parent: id, child: entityRef(ref, 'component', ns), type: 'depends_on' });
    for (const ref of strs(spec.consumesApis))
      relations.push({ parent: id, child: entityRef(ref, 'api', ns), type: 'consumes_api' });
    // The API depends on whoever provides it: a provider's failure reaches its consumers.
    for (const ref of strs(spec.providesApis))
      relations.push({ parent: entityRef(ref, 'api', ns), child: id, type: 'provided_by' });
  } catch (err) {
    return (err as Error).message;
  }
  return {
    ci: {
      id,
      name,
      class: kind === 'component' || kind === 'resource' ? type || kind : kind,
      ...(kind === 'component' ? { service: name } : {}),
      ...(owner ? { ownerGroup: owner.replace(/^group:(default\/)?/i, '') } : {}),
      ...(environment ? { environment } : {}),
      attributes,
    },
    relations,
  };
}

/** An explicit environment label wins; else the lifecycle hints at one. */
function environmentOf(labels: Record<string, unknown>, lifecycle: string): string {
  const label = str(labels.environment) || str(labels.env);
  if (label) return label.toLowerCase();
  switch (lifecycle.toLowerCase()) {
    case 'production':
      return 'production';
    case 'experimental':
    case 'development':
      return 'development';
    default:
      return '';
  }
}
