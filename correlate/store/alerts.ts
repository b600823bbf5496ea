import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import type { Alert } from '../../core/model/records.ts';

/** Alert notifications as received, one row each, in `alerts`. */
export async function storeAlerts(
  client: ClickHouseClient,
  alerts: Alert[],
  receivedAt: number,
  dedupToken?: string,
): Promise<void> {
  if (!alerts.length) return;
  const at = new Date(receivedAt).toISOString();
  await client.insert({
    table: 'alerts',
    format: 'JSONEachRow',
    values: alerts.map((a) => ({
      received_at: at,
      fingerprint: a.fingerprint,
      source: a.source,
      kind: a.kind,
      status: a.status,
      severity: a.severity,
      service: a.service ?? '',
      ci_hint: a.ciHint ?? '',
      labels: a.labels,
      annotations: a.annotations,
      starts_at: a.startsAt,
      ends_at: a.endsAt ?? null,
      score: finite(a.score),
      evidence_series: a.evidence?.series ?? '',
      evidence_observed: finite(a.evidence?.observed),
      evidence_expected: finite(a.evidence?.expected),
      evidence_lower: finite(a.evidence?.lower),
      evidence_upper: finite(a.evidence?.upper),
      evidence_query: a.evidence?.query ?? '',
    })),
    clickhouse_settings: {
      date_time_input_format: 'best_effort',
      // A redelivered bus batch carries the same token: stored once.
      ...(dedupToken ? { insert_deduplication_token: dedupToken } : {}),
    },
  });
}

const finite = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);

interface AlertRow {
  fingerprint: string;
  source: string;
  kind: Alert['kind'];
  status: Alert['status'];
  severity: Alert['severity'];
  service: string;
  ci_hint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string | null;
  score: number | null;
}

/** The latest notification of each fingerprint (to restore open incidents' members). */
export async function latestAlerts(client: ClickHouseClient, fingerprints: string[]): Promise<Alert[]> {
  if (!fingerprints.length) return [];
  const rs = await client.query({
    query: `SELECT fingerprint, argMax(tuple(source, kind, status, severity, service, ci_hint, labels, annotations,
              toString(starts_at), if(isNull(ends_at), '', toString(ends_at)), score), received_at) AS t
            FROM alerts WHERE fingerprint IN {fps:Array(String)} GROUP BY fingerprint`,
    query_params: { fps: fingerprints },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ fingerprint: string; t: unknown[] }>();
  return rows.map(({ fingerprint, t }) => {
    const [source, kind, status, severity, service, ciHint, labels, annotations, startsAt, endsAt, score] =
      t as [
        string,
        AlertRow['kind'],
        AlertRow['status'],
        AlertRow['severity'],
        string,
        string,
        Record<string, string>,
        Record<string, string>,
        string,
        string,
        number | null,
      ];
    return {
      fingerprint,
      source,
      kind,
      status,
      severity,
      ...(service ? { service } : {}),
      ...(ciHint ? { ciHint } : {}),
      labels,
      annotations,
      startsAt: utc(startsAt),
      ...(endsAt ? { endsAt: utc(endsAt) } : {}),
      ...(score !== null ? { score } : {}),
    };
  });
}

/** ClickHouse prints DateTime64 as 'YYYY-MM-DD hh:mm:ss.sss' (UTC columns). */
const utc = (s: string) => new Date(`${s.replace(' ', 'T')}Z`).toISOString();
