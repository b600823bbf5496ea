import type { BillingLine, LogRecord, MetricPoint } from '../core/model/records.ts';

/**
 * Bus keys, one definition per kind of record: every source must key a series, a service or a
 * cost line the same way, or one series would be split across partitions (ordering, detector
 * state).
 */

/** Series identity: the metric, its resource's service and its sorted attributes. */
export function seriesKey(m: Pick<MetricPoint, 'name' | 'resource' | 'attributes'>): string {
  const labels = Object.keys(m.attributes)
    .sort()
    .map((k) => `${k}=${m.attributes[k]}`)
    .join(',');
  return `${m.resource['service.name'] ?? ''}|${m.name}{${labels}}`;
}

/** Logs are keyed by service; no service, no key (spread round-robin). */
export function logKey(l: Pick<LogRecord, 'serviceName' | 'resource'>): string | null {
  return l.serviceName || l.resource['service.name'] || null;
}

/** A cost line by account and service: one account's service lands on one partition. */
export function billingKey(b: Pick<BillingLine, 'ProviderName' | 'SubAccountId' | 'ServiceName'>): string {
  return `${b.ProviderName}|${b.SubAccountId ?? ''}|${b.ServiceName}`;
}
