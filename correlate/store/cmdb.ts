import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { Change, Ci, CiRelation, Criticality, KnownError } from '../engine/model.ts';

/**
 * The CMDB, KEDB and changes as the correlator needs them, read from ClickHouse (the latest
 * row of each key, retracted ones excluded), and discovered CIs written back.
 */

async function rows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

const CRITICALITY = new Set(['critical', 'high', 'medium', 'low']);

export function criticalityOf(v: string | undefined): Criticality | undefined {
  if (!v) return undefined;
  const s = v.toLowerCase().replace(/^\d\s*-\s*/, '');
  if (CRITICALITY.has(s)) return s as Criticality;
  // ServiceNow busines_criticality: "1 - most critical" .. "4 - not critical"
  const n = /^(\d)/.exec(v)?.[1];
  return n ? (['critical', 'high', 'medium', 'low'] as const)[Math.min(3, Number(n) - 1)] : undefined;
}

export async function loadCis(client: ClickHouseClient): Promise<Ci[]> {
  const list = await rows<{
    id: string;
    name: string;
    class: string;
    service: string;
    owner_group: string;
    environment: string;
    criticality: string;
    attributes: Record<string, string>;
    discovered: boolean;
  }>(
    client,
    `SELECT id, name, class, service, owner_group, environment, criticality, attributes, discovered
     FROM cmdb_ci FINAL WHERE deleted = 0`,
  );
  return list.map((r) => {
    const criticality = criticalityOf(r.criticality);
    return {
      id: r.id,
      name: r.name,
      class: r.class,
      ...(r.service ? { service: r.service } : {}),
      ...(r.owner_group ? { ownerGroup: r.owner_group } : {}),
      ...(r.environment ? { environment: r.environment } : {}),
      ...(criticality ? { criticality } : {}),
      attributes: r.attributes,
      ...(r.discovered ? { discovered: true } : {}),
    };
  });
}

export async function loadRelations(client: ClickHouseClient): Promise<CiRelation[]> {
  return rows<CiRelation>(client, 'SELECT parent, child, type FROM cmdb_rel FINAL WHERE deleted = 0');
}

export async function loadKnownErrors(client: ClickHouseClient): Promise<KnownError[]> {
  const list = await rows<{
    id: string;
    title: string;
    symptoms: string[];
    scope: string[];
    workaround: string;
    problem_ref: string;
    status: string;
  }>(
    client,
    'SELECT id, title, symptoms, scope, workaround, problem_ref, status FROM known_errors FINAL WHERE deleted = 0',
  );
  return list.map((r) => ({ ...r, problemRef: r.problem_ref }));
}

export async function loadChanges(client: ClickHouseClient, sinceMs: number): Promise<Change[]> {
  const list = await rows<{
    id: string;
    ci: string;
    t: string;
    kind: string;
    description: string;
    link: string;
  }>(
    client,
    `SELECT id, ci, toUnixTimestamp64Milli(time) AS t, kind, description, link FROM changes
     WHERE time >= fromUnixTimestamp64Milli({since:Int64}) ORDER BY time`,
    { since: sinceMs },
  );
  return list.map((r) => ({
    id: r.id,
    ci: r.ci,
    time: Number(r.t),
    kind: r.kind,
    description: r.description,
    link: r.link,
  }));
}

export async function saveDiscovered(client: ClickHouseClient, cis: Ci[]): Promise<void> {
  if (!cis.length) return;
  await client.insert({
    table: 'cmdb_ci',
    format: 'JSONEachRow',
    values: cis.map((c) => ({
      id: c.id,
      name: c.name,
      class: c.class,
      service: c.service ?? '',
      owner_group: '',
      environment: '',
      criticality: '',
      attributes: c.attributes,
      discovered: true,
      source: 'telemetry',
      deleted: 0,
    })),
  });
}

/** Services that sent metrics, logs or traces since `sinceMs` (for registering discovered CIs). */
export async function telemetryServices(client: ClickHouseClient, sinceMs: number): Promise<string[]> {
  const list = await rows<{ s: string }>(
    client,
    `SELECT DISTINCT s FROM (
       SELECT ServiceName AS s FROM otel_metrics_gauge WHERE TimeUnix >= fromUnixTimestamp64Milli({since:Int64})
       UNION ALL SELECT ServiceName FROM otel_metrics_sum WHERE TimeUnix >= fromUnixTimestamp64Milli({since:Int64})
       UNION ALL SELECT ServiceName FROM otel_metrics_histogram WHERE TimeUnix >= fromUnixTimestamp64Milli({since:Int64})
       UNION ALL SELECT ServiceName FROM otel_logs WHERE Timestamp >= fromUnixTimestamp64Milli({since:Int64})
       UNION ALL SELECT ServiceName FROM otel_traces WHERE Timestamp >= fromUnixTimestamp64Milli({since:Int64})
     ) WHERE s != '' LIMIT 100000`,
    { since: sinceMs },
  );
  return list.map((r) => r.s);
}
