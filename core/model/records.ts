/**
 * Canonical records carried on the bus. Sources produce them, the writer maps them onto
 * ClickHouse rows, detectors and the correlator read them. Timestamps are Unix nanoseconds
 * as decimal strings where precision matters (they exceed 2^53) and milliseconds elsewhere.
 */

export type Attributes = Record<string, string>;

export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';
export type Temporality = 'unspecified' | 'delta' | 'cumulative';

export interface MetricPoint {
  name: string;
  type: MetricType;
  unit?: string;
  description?: string;
  /** Resource attributes; `service.name` is promoted to its own column by the writer. */
  resource: Attributes;
  /** Point (data-point) attributes, i.e. the labels of the series. */
  attributes: Attributes;
  /** Sample time, Unix nanoseconds. */
  timeUnixNano: bigint | string;
  startTimeUnixNano?: bigint | string;
  /** gauge and sum */
  value?: number;
  /** sum only */
  temporality?: Temporality;
  monotonic?: boolean;
  /** histogram only: explicit bounds and one more count than bounds. */
  histogram?: { count: number; sum: number; bounds: number[]; counts: number[]; min?: number; max?: number };
  /** exponential_histogram only (also Prometheus native histograms). */
  exponentialHistogram?: ExponentialHistogram;
  /** summary only. */
  summary?: Summary;
  /** OTLP DataPointFlags (bit 0: no recorded value); 0 when absent. */
  flags?: number;
  exemplars?: Exemplar[];
  scope?: { name: string; version: string };
}

/**
 * Base-2 exponential buckets: bucket index i covers (base^i, base^(i+1)] with base =
 * 2^(2^-scale); counts[k] is the bucket at index offset + k.
 */
export interface ExponentialBuckets {
  offset: number;
  counts: number[];
}

export interface ExponentialHistogram {
  count: number;
  sum: number;
  /** -10..20 */
  scale: number;
  /** Values whose magnitude is at most zeroThreshold. */
  zeroCount: number;
  zeroThreshold?: number;
  positive: ExponentialBuckets;
  negative: ExponentialBuckets;
  min?: number;
  max?: number;
}

export interface Summary {
  count: number;
  sum: number;
  /** Quantile 0..1 and the value at it, in the order received. */
  quantiles: { quantile: number; value: number }[];
}

export interface Exemplar {
  timeUnixNano: bigint | string;
  value: number;
  /** Attributes of the measurement the aggregation dropped. */
  attributes: Attributes;
  /** Lowercase hex; empty when the measurement had no span. */
  traceId?: string;
  spanId?: string;
}

export interface LogRecord {
  timeUnixNano: bigint | string;
  observedTimeUnixNano?: bigint | string;
  /** OpenTelemetry severity number, 1..24, 0 unspecified. */
  severityNumber: number;
  severityText: string;
  body: string;
  resource: Attributes;
  attributes: Attributes;
  traceId?: string;
  spanId?: string;
  serviceName: string;
  /** Stamped by ingest's template miner (core/logs): the template's stable id, its values and text. */
  templateId?: string;
  templateParams?: string[];
  template?: string;
  scope?: { name: string; version: string };
}

/** A FOCUS billing line; money as decimal strings so nothing drifts through floats. */
export interface BillingLine {
  BilledCost: string;
  EffectiveCost: string;
  ListCost: string;
  ContractedCost?: string;
  BillingCurrency: string;
  BillingPeriodStart: string;
  BillingPeriodEnd: string;
  ChargePeriodStart: string;
  ChargePeriodEnd: string;
  ChargeCategory: string;
  ChargeDescription?: string;
  ProviderName: string;
  PublisherName?: string;
  InvoiceIssuerName?: string;
  BillingAccountId?: string;
  BillingAccountName?: string;
  SubAccountId?: string;
  SubAccountName?: string;
  ServiceName: string;
  ServiceCategory?: string;
  RegionId?: string;
  RegionName?: string;
  AvailabilityZone?: string;
  ResourceId?: string;
  ResourceName?: string;
  ResourceType?: string;
  SkuId?: string;
  SkuPriceId?: string;
  PricingUnit?: string;
  PricingQuantity?: string;
  ConsumedQuantity?: string;
  ConsumedUnit?: string;
  Tags: Record<string, string>;
  /** Where the line came from, so a restated file can replace its period. */
  SourceName: string;
  SourceFile: string;
  SourceLine: number;
}

export type AlertKind =
  'metric_anomaly' | 'log_anomaly' | 'cost_spike' | 'slo_burn' | 'service_down' | 'external';

export type AlertStatus = 'firing' | 'resolved';
export type Severity = 'critical' | 'error' | 'warning' | 'info';

export interface AlertEvidence {
  series?: string;
  observed?: number;
  expected?: number;
  lower?: number;
  upper?: number;
  query?: string;
}

export interface Alert {
  fingerprint: string;
  source: string;
  kind: AlertKind;
  status: AlertStatus;
  severity: Severity;
  service?: string;
  ciHint?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** ISO 8601 */
  startsAt: string;
  endsAt?: string;
  score?: number;
  evidence?: AlertEvidence;
}

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export interface Incident {
  id: string;
  status: IncidentStatus;
  severity: Severity;
  title: string;
  alertFingerprints: string[];
  alertCount: number;
  affectedCis: string[];
  rootCauses: { ci: string; score: number; reason: string }[];
  knownErrors: { id: string; score: number; workaround: string; title?: string; reason?: string }[];
  timeline: { at: string; event: string }[];
  firstSeen: string;
  lastSeen: string;
  notified: string[];
  version: number;
  /** P1..P5 from impact (CI criticality) × urgency (alert severity). */
  priority?: string;
  /** CIs that depend on the root cause (transitively) and the other affected CIs. */
  blastRadius?: string[];
  /** Per affected CI: first alert (Unix ms), strongest score, alert count. */
  affected?: { ci: string; onset: number; maxScore: number; alerts: number }[];
  /** Changes on the affected CIs shortly before onset, most suspect first. */
  changes?: {
    id: string;
    ci: string;
    time: string;
    kind: string;
    description: string;
    link: string;
    score: number;
  }[];
  acknowledgedAt?: string;
  resolvedAt?: string;
  /** Cost incidents: account|service|day they group by. */
  costKey?: string;
  /** The service of the top root-cause CI, for filters and dashboards. */
  service?: string;
}
