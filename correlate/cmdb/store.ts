import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { Ci, CiRelation } from '../engine/model.ts';
import type { CmdbParse } from './types.ts';

/**
 * Stores an import as the truth for its source: every CI and relation of the file is written
 * with source = the importer's name, and what that source had before but the file lacks gets a
 * `deleted = 1` row. A file replaces only the kinds it holds (a relations CSV leaves the CIs
 * alone); a file with no valid record retracts nothing, so an empty or broken export never
 * wipes a CMDB.
 */

export interface StoreResult {
  cis: number;
  relations: number;
  retractedCis: number;
  retractedRelations: number;
}

async function rows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

/**
 * A version above every stored one, so the new rows win over the old even when the clock
 * stands still between two imports or stepped back.
 */
export async function nextVersion(client: ClickHouseClient, table: string): Promise<string> {
  const [r] = await rows<{ v: string }>(
    client,
    `SELECT toString(max(toUnixTimestamp64Milli(updated_at))) AS v FROM {table:Identifier}`,
    { table },
  );
  return new Date(Math.max(Date.now(), Number(r?.v ?? 0) + 1)).toISOString();
}

const relKey = (r: CiRelation) => `${r.parent}\u0000${r.child}\u0000${r.type}`;

export async function storeCmdb(
  client: ClickHouseClient,
  source: string,
  p: CmdbParse,
): Promise<StoreResult> {
  const out: StoreResult = { cis: 0, relations: 0, retractedCis: 0, retractedRelations: 0 };
  if (p.cis.length) {
    // Last one wins when a file lists a CI twice.
    const cis = [...new Map(p.cis.map((c) => [c.id, c])).values()];
    const keep = new Set([...cis.map((c) => c.id), ...p.keepIds]);
    const old = await rows<{ id: string }>(
      client,
      'SELECT id FROM cmdb_ci FINAL WHERE deleted = 0 AND source = {source:String}',
      { source },
    );
    const gone = old.filter((o) => !keep.has(o.id));
    const updated_at = await nextVersion(client, 'cmdb_ci');
    await client.insert({
      table: 'cmdb_ci',
      format: 'JSONEachRow',
      values: [
        ...cis.map((c) => ciRow(c, source, updated_at)),
        ...gone.map((g) => ({
          ...ciRow({ id: g.id, name: '', class: '', attributes: {} }, source, updated_at),
          deleted: 1,
        })),
      ],
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
    out.cis = cis.length;
    out.retractedCis = gone.length;
  }
  if (p.relations.length) {
    const rels = [...new Map(p.relations.map((r) => [relKey(r), r])).values()];
    const keep = new Set(rels.map(relKey));
    const old = await rows<CiRelation>(
      client,
      'SELECT parent, child, type FROM cmdb_rel FINAL WHERE deleted = 0 AND source = {source:String}',
      { source },
    );
    const gone = old.filter((o) => !keep.has(relKey(o)));
    const updated_at = await nextVersion(client, 'cmdb_rel');
    await client.insert({
      table: 'cmdb_rel',
      format: 'JSONEachRow',
      values: [
        ...rels.map((r) => ({ ...r, source, deleted: 0, updated_at })),
        ...gone.map((r) => ({ ...r, source, deleted: 1, updated_at })),
      ],
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
    out.relations = rels.length;
    out.retractedRelations = gone.length;
  }
  return out;
}

function ciRow(c: Ci, source: string, updated_at: string) {
  return {
    id: c.id,
    name: c.name,
    class: c.class,
    service: c.service ?? '',
    owner_group: c.ownerGroup ?? '',
    environment: c.environment ?? '',
    criticality: c.criticality ?? '',
    attributes: c.attributes,
    discovered: false,
    source,
    deleted: 0,
    updated_at,
  };
}

/** CIs for the API, filtered by service and class. */
export async function queryCis(
  client: ClickHouseClient,
  f: { service?: string; class?: string; limit: number },
): Promise<Record<string, unknown>[]> {
  const where = ['deleted = 0'];
  if (f.service !== undefined) where.push('service = {service:String}');
  if (f.class !== undefined) where.push('class = {class:String}');
  return rows(
    client,
    `SELECT id, name, class, service, owner_group, environment, criticality, attributes, discovered, source,
            toString(updated_at) AS updated_at
     FROM cmdb_ci FINAL WHERE ${where.join(' AND ')} ORDER BY id LIMIT {limit:UInt32}`,
    { ...f },
  );
}
