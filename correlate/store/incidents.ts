import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { Incident } from '../../core/model/records.ts';

/** Incidents as versions in `incidents` (ReplacingMergeTree by version; read with FINAL). */
export async function saveIncidents(client: ClickHouseClient, incidents: Incident[]): Promise<void> {
  if (!incidents.length) return;
  await client.insert({
    table: 'incidents',
    format: 'JSONEachRow',
    values: incidents.map((i) => ({
      id: i.id,
      version: i.version,
      status: i.status,
      severity: i.severity,
      title: i.title,
      service: i.service ?? '',
      alert_fingerprints: i.alertFingerprints,
      alert_count: i.alertCount,
      affected_cis: i.affectedCis,
      root_causes: JSON.stringify(i.rootCauses),
      known_errors: JSON.stringify(i.knownErrors),
      timeline: JSON.stringify(i.timeline),
      first_seen: i.firstSeen,
      last_seen: i.lastSeen,
      notified: i.notified,
      priority: i.priority ?? '',
      blast_radius: i.blastRadius ?? [],
      affected: JSON.stringify(i.affected ?? []),
      changes: JSON.stringify(i.changes ?? []),
      acknowledged_at: i.acknowledgedAt ?? null,
      resolved_at: i.resolvedAt ?? null,
      cost_key: i.costKey ?? '',
    })),
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
}

interface Row {
  id: string;
  version: string;
  status: Incident['status'];
  severity: Incident['severity'];
  title: string;
  service: string;
  alert_fingerprints: string[];
  alert_count: number;
  affected_cis: string[];
  root_causes: string;
  known_errors: string;
  timeline: string;
  first_seen: string;
  last_seen: string;
  notified: string[];
  priority: string;
  blast_radius: string[];
  affected: string;
  changes: string;
  acknowledged_at: string | null;
  resolved_at: string | null;
  cost_key: string;
}

const utc = (s: string) => new Date(`${s.replace(' ', 'T')}Z`).toISOString();

function fromRow(r: Row): Incident {
  return {
    id: r.id,
    version: Number(r.version),
    status: r.status,
    severity: r.severity,
    title: r.title,
    ...(r.service ? { service: r.service } : {}),
    alertFingerprints: r.alert_fingerprints,
    alertCount: Number(r.alert_count),
    affectedCis: r.affected_cis,
    rootCauses: JSON.parse(r.root_causes || '[]') as Incident['rootCauses'],
    knownErrors: JSON.parse(r.known_errors || '[]') as Incident['knownErrors'],
    timeline: JSON.parse(r.timeline || '[]') as Incident['timeline'],
    firstSeen: utc(r.first_seen),
    lastSeen: utc(r.last_seen),
    notified: r.notified,
    ...(r.priority ? { priority: r.priority } : {}),
    blastRadius: r.blast_radius,
    affected: JSON.parse(r.affected || '[]') as NonNullable<Incident['affected']>,
    changes: JSON.parse(r.changes || '[]') as NonNullable<Incident['changes']>,
    ...(r.acknowledged_at ? { acknowledgedAt: utc(r.acknowledged_at) } : {}),
    ...(r.resolved_at ? { resolvedAt: utc(r.resolved_at) } : {}),
    ...(r.cost_key ? { costKey: r.cost_key } : {}),
  };
}

export interface IncidentFilter {
  status?: string[];
  priority?: string[];
  service?: string;
  /** ISO time: incidents last seen after it. */
  since?: string;
  limit?: number;
}

/** The newest version of each incident matching the filter, newest first. */
export async function queryIncidents(client: ClickHouseClient, f: IncidentFilter = {}): Promise<Incident[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: f.limit ?? 100 };
  if (f.status?.length) {
    where.push('status IN {status:Array(String)}');
    params.status = f.status;
  }
  if (f.priority?.length) {
    where.push('priority IN {priority:Array(String)}');
    params.priority = f.priority;
  }
  if (f.service) {
    where.push(
      '(service = {service:String} OR has(affected_cis, {service:String}) OR has(blast_radius, {service:String}))',
    );
    params.service = f.service;
  }
  if (f.since) {
    where.push("last_seen >= parseDateTime64BestEffort({since:String}, 3, 'UTC')");
    params.since = f.since;
  }
  const rs = await client.query({
    query: `SELECT * FROM incidents FINAL ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY last_seen DESC LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await rs.json<Row>()).map(fromRow);
}

export async function getIncident(client: ClickHouseClient, id: string): Promise<Incident | undefined> {
  const rs = await client.query({
    query: 'SELECT * FROM incidents FINAL WHERE id = {id:String}',
    query_params: { id },
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<Row>();
  return row && fromRow(row);
}
