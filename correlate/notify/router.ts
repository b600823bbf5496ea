import type { NotifyRoute } from '../../core/config/notify.ts';
import type { IncidentEvent } from '../engine/correlator.ts';

/** Which targets an incident event goes to. `ownerGroups` and `labels` come from the caller. */
export interface RouteFacts {
  ownerGroups: string[];
  labels: Record<string, string>[];
}

export function routeTargets(routes: NotifyRoute[], event: IncidentEvent, facts: RouteFacts): string[] {
  const i = event.incident;
  const out = new Set<string>();
  for (const r of routes) {
    const m = r.match;
    const services = new Set([i.service, ...i.affectedCis].filter((x): x is string => !!x));
    if (m.services && !m.services.some((s) => services.has(s))) continue;
    if (m.ownerGroups && !m.ownerGroups.some((g) => facts.ownerGroups.includes(g))) continue;
    if (m.priorities && !m.priorities.includes((i.priority ?? 'P5') as 'P1')) continue;
    if (m.kind && m.kind !== (i.costKey ? 'cost' : 'service')) continue;
    if (m.labels && !facts.labels.some((l) => Object.entries(m.labels!).every(([k, v]) => l[k] === v)))
      continue;
    for (const t of r.targets) out.add(t);
    if (!r.continue) break;
  }
  return [...out];
}
