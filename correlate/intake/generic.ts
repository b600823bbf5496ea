import { z } from 'zod';
import type { Alert } from '../../core/model/records.ts';
import { serviceOf, severityOf } from './normalize.ts';

/**
 * The generic alert API: one alert, an array, or {"alerts": [...]}. Only labels (with an
 * alertname) are required; the rest defaults sensibly (firing, now, severity from the
 * `severity` label, fingerprint from the configured label set).
 */
const labels = z.record(z.string(), z.string());
const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 / RFC 3339 time');

export const genericAlert = z
  .object({
    fingerprint: z.string().min(1).max(200).optional(),
    status: z.enum(['firing', 'resolved']).default('firing'),
    kind: z
      .enum(['metric_anomaly', 'log_anomaly', 'cost_spike', 'slo_burn', 'service_down', 'external'])
      .default('external'),
    severity: z.enum(['critical', 'error', 'warning', 'info']).optional(),
    source: z.string().min(1).max(100).default('api'),
    service: z.string().min(1).optional(),
    ci: z.string().min(1).optional(),
    labels: labels.refine((l) => !!l.alertname, 'labels.alertname is required'),
    annotations: labels.default({}),
    startsAt: time.optional(),
    endsAt: time.optional(),
    score: z.number().min(0).max(1).optional(),
    evidence: z
      .object({
        series: z.string().optional(),
        observed: z.number().optional(),
        expected: z.number().optional(),
        lower: z.number().optional(),
        upper: z.number().optional(),
        query: z.string().optional(),
      })
      .optional(),
  })
  .strict();

/** Picks the payload's shape first, so a validation error points into it (`alerts.3.labels`). */
export const genericPayload = z
  .preprocess(
    (body) =>
      Array.isArray(body)
        ? { alerts: body }
        : body && typeof body === 'object' && 'alerts' in body
          ? body
          : { alerts: [body] },
    z.object({ alerts: z.array(genericAlert).min(1).max(10_000) }).strict(),
  )
  .transform((o) => o.alerts);

export function fromGeneric(
  list: z.infer<typeof genericAlert>[],
  fingerprint: (l: Record<string, string>) => string,
): Alert[] {
  const now = new Date().toISOString();
  return list.map((a) => {
    const service = a.service ?? serviceOf(a.labels);
    return {
      fingerprint: a.fingerprint ?? fingerprint(a.labels),
      source: a.source,
      kind: a.kind,
      status: a.status,
      severity: a.severity ?? severityOf(a.labels.severity),
      ...(service ? { service } : {}),
      ...(a.ci ? { ciHint: a.ci } : {}),
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt ? new Date(a.startsAt).toISOString() : now,
      ...(a.endsAt
        ? { endsAt: new Date(a.endsAt).toISOString() }
        : a.status === 'resolved'
          ? { endsAt: now }
          : {}),
      ...(a.score !== undefined ? { score: a.score } : {}),
      ...(a.evidence ? { evidence: a.evidence } : {}),
    };
  });
}
