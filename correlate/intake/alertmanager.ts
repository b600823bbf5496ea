import { z } from 'zod';
import type { Alert } from '../../core/model/records.ts';
import { endTime, serviceOf, severityOf } from './normalize.ts';

/**
 * Alertmanager's webhook payload, version 4 (Alertmanager ≥ 0.x sends it to `webhook_configs`).
 * Every alert keeps Alertmanager's own fingerprint, so its repeats deduplicate exactly as
 * Alertmanager groups them.
 */
const labels = z.record(z.string(), z.string());

const amAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labels.refine((l) => Object.keys(l).length > 0, 'at least one label'),
  annotations: labels.default({}),
  startsAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an RFC 3339 time'),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).optional(),
});

export const alertmanagerPayload = z.object({
  version: z.literal('4', { error: 'Alertmanager webhook version "4"' }),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labels.default({}),
  commonLabels: labels.default({}),
  commonAnnotations: labels.default({}),
  externalURL: z.string().optional(),
  alerts: z.array(amAlert).min(1, 'at least one alert'),
});

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;

export function fromAlertmanager(
  p: AlertmanagerPayload,
  fingerprint: (l: Record<string, string>) => string,
): Alert[] {
  return p.alerts.map((a) => {
    const service = serviceOf(a.labels);
    const ends = a.status === 'resolved' ? (endTime(a.endsAt) ?? new Date().toISOString()) : undefined;
    return {
      fingerprint: a.fingerprint ?? fingerprint(a.labels),
      source: 'alertmanager',
      kind: 'external',
      status: a.status,
      severity: severityOf(a.labels.severity),
      ...(service ? { service } : {}),
      labels: a.labels,
      annotations: {
        ...a.annotations,
        ...(a.generatorURL ? { generator_url: a.generatorURL } : {}),
        ...(p.externalURL ? { alertmanager_url: p.externalURL } : {}),
      },
      startsAt: new Date(a.startsAt).toISOString(),
      ...(ends ? { endsAt: new Date(ends).toISOString() } : {}),
    };
  });
}
