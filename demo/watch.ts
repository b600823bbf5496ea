import type { ClickHouseClient } from '../core/clickhouse/client.ts';
import type { Incident } from '../core/model/records.ts';
import { FAULTS } from './estate.ts';
import type { CostAlertView, DemoIncident } from './print.ts';

/** Reading back what the pipeline made of the faults: incidents, cost alerts, which fault is which. */

export function view(i: Incident): DemoIncident {
  const ke = i.knownErrors[0];
  const ch = i.changes?.[0];
  return {
    id: i.id,
    title: i.title,
    status: i.status,
    priority: i.priority ?? '-',
    ...(i.rootCauses[0] ? { rootCause: i.rootCauses[0].ci } : {}),
    blastRadius: i.blastRadius ?? [],
    affected: i.affectedCis,
    alertCount: i.alertCount,
    ...(ke ? { knownError: { id: ke.id, title: ke.title ?? '', workaround: ke.workaround } } : {}),
    ...(ch ? { change: { id: ch.id, ci: ch.ci, time: ch.time, description: ch.description } } : {}),
    ...(i.costKey ? { costKey: i.costKey } : {}),
  };
}

export async function costAlerts(client: ClickHouseClient): Promise<CostAlertView[]> {
  const rows = await (
    await client.query({
      query: `SELECT labels, annotations, severity FROM alerts
              WHERE kind = 'cost_spike' AND status = 'firing' ORDER BY received_at`,
      format: 'JSONEachRow',
    })
  ).json<{ labels: Record<string, string>; annotations: Record<string, string>; severity: string }>();
  const seen = new Set<string>();
  const out: CostAlertView[] = [];
  for (const r of rows) {
    const key = `${r.labels.SubAccountId}|${r.labels.ServiceName}|${r.labels.period}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      summary: r.annotations.summary ?? '',
      account: r.labels.SubAccountId ?? '',
      service: r.labels.ServiceName ?? '',
      period: r.labels.period ?? '',
      currency: r.labels.currency ?? '',
      actual: Number(r.annotations.actual),
      expected: Number(r.annotations.expected),
      severity: r.severity,
      team: r.labels.team ?? '',
      drivers: r.annotations.drivers_summary ?? '',
    });
  }
  return out;
}

/** Which expected fault an incident is, if any. */
export function classify(i: DemoIncident): 'outage' | 'leak' | 'cost' | undefined {
  if (i.costKey) return 'cost';
  if (i.rootCause === FAULTS.outage.ci) return 'outage';
  if (i.rootCause === FAULTS.leak.ci) return 'leak';
  return undefined;
}

export const ready = (i: DemoIncident | undefined, fault: 'outage' | 'leak') =>
  !!i &&
  i.knownError?.id === FAULTS[fault].knownError &&
  i.change?.id === FAULTS[fault].change &&
  (fault === 'leak' || i.affected.length >= 3);
