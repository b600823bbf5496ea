import { fingerprintOf } from '../../core/model/fingerprint.ts';
import type { Alert, AlertStatus, Severity } from '../../core/model/records.ts';
import type { Driver } from './drivers.ts';
import { severityOf, type SpikeScore } from './spike.ts';
import { seriesName, type SeriesId, type SeriesSpec } from './series.ts';

/**
 * The cost_spike alert of one (series, period). Its labels are the series' dimensions, the
 * currency and the period, so the fingerprint is the same every time that period is re-scored:
 * a restated day updates or resolves its alert, it never raises a second one.
 */

export interface CostAlertInput {
  spec: SeriesSpec;
  id: SeriesId;
  at: number;
  status: AlertStatus;
  score: SpikeScore;
  minIncrease: number;
  drivers: Driver[];
  query: string;
  now: number;
  note?: string;
  /** A resolved alert keeps the severity it fired with. */
  severity?: Severity;
}

const money = (v: number) => v.toFixed(2);

export function periodLabel(at: number, granularity: 'daily' | 'hourly'): string {
  const iso = new Date(at).toISOString();
  return granularity === 'daily' ? iso.slice(0, 10) : `${iso.slice(0, 13)}:00Z`;
}

export function costAlertLabels(spec: SeriesSpec, id: SeriesId, at: number): Record<string, string> {
  const labels: Record<string, string> = {
    alertname: 'CostSpike',
    team: 'finance',
    currency: id.currency,
    period: periodLabel(at, spec.granularity),
  };
  for (const d of spec.dimensions) labels[d] = id.dims[d] ?? '';
  for (const k of spec.tagKeys) labels[`tag_${k}`] = id.tags[k] ?? '';
  return labels;
}

function driverText(d: Driver, currency: string): string {
  const what = [
    d.skuId && `SKU ${d.skuId}`,
    d.resourceId && `resource ${d.resourceId}`,
    d.regionId && `in ${d.regionId}`,
  ]
    .filter(Boolean)
    .join(' ');
  return `${what || 'unattributed'}: +${money(d.increase)} ${currency} (${Math.round(d.share * 100)}%)${d.description ? ` - ${d.description}` : ''}`;
}

export function costAlert(i: CostAlertInput): Alert {
  const { spec, id, score: s } = i;
  const labels = costAlertLabels(spec, id, i.at);
  const name = seriesName(id, spec);
  const period = labels.period!;
  const pct = s.expected > 0 ? ` (+${Math.round((100 * s.increase) / s.expected)}%)` : '';
  const annotations: Record<string, string> = {
    summary: `Cost spike: ${name} cost ${money(s.observed)} ${id.currency} on ${period}, expected ${money(s.expected)} ${id.currency}${pct}`,
    actual: money(s.observed),
    expected: money(s.expected),
    increase: money(s.increase),
    currency: id.currency,
    period,
    drivers: JSON.stringify(i.drivers),
    drivers_summary: i.drivers.map((d) => driverText(d, id.currency)).join('; '),
  };
  if (i.note) annotations.resolution = i.note;
  return {
    fingerprint: fingerprintOf(labels),
    source: 'cost',
    kind: 'cost_spike',
    status: i.status,
    severity: i.severity ?? severityOf(Math.max(s.increase, 0), i.minIncrease),
    ...(id.dims.ServiceName ? { service: id.dims.ServiceName } : {}),
    labels,
    annotations,
    startsAt: new Date(i.at).toISOString(),
    ...(i.status === 'resolved' ? { endsAt: new Date(i.now).toISOString() } : {}),
    score: s.score,
    evidence: {
      series: name,
      observed: s.observed,
      expected: s.expected,
      lower: s.lower,
      upper: s.upper,
      query: i.query,
    },
  };
}
