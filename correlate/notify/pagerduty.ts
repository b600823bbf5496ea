import type { Incident } from '../../core/model/records.ts';
import type { IncidentEvent } from '../engine/correlator.ts';
import { postJson, type Notifier } from './types.ts';

/**
 * PagerDuty Events API v2. dedup_key is the incident id, so a priority or root-cause change
 * updates the same PagerDuty alert, and acknowledge/resolve close it there too.
 */
const SEVERITY: Record<Incident['severity'], string> = {
  critical: 'critical',
  error: 'error',
  warning: 'warning',
  info: 'info',
};

export class PagerDutyNotifier implements Notifier {
  readonly type = 'pagerduty';
  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly routingKey: string,
  ) {}

  async send(event: IncidentEvent, signal: AbortSignal): Promise<void> {
    await postJson(this.url, JSON.stringify(pagerDutyEvent(event, this.routingKey)), {}, signal);
  }
}

export function pagerDutyEvent(event: IncidentEvent, routingKey: string): Record<string, unknown> {
  const i = event.incident;
  const action =
    event.type === 'resolved' ? 'resolve' : event.type === 'acknowledged' ? 'acknowledge' : 'trigger';
  if (action !== 'trigger') return { routing_key: routingKey, event_action: action, dedup_key: i.id };
  const root = i.rootCauses[0];
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: i.id,
    payload: {
      summary: `[${i.priority ?? ''}] ${i.title}`.slice(0, 1024),
      source: root?.ci ?? i.service ?? 'opsight',
      severity: SEVERITY[i.severity],
      timestamp: i.firstSeen,
      component: i.service,
      group: root?.ci,
      class: event.type,
      custom_details: {
        priority: i.priority,
        root_causes: i.rootCauses.slice(0, 3),
        blast_radius: i.blastRadius,
        known_errors: i.knownErrors.map((k) => ({ id: k.id, workaround: k.workaround, score: k.score })),
        suspect_changes: (i.changes ?? []).slice(0, 3),
        alerts: i.alertFingerprints.length,
      },
    },
  };
}
