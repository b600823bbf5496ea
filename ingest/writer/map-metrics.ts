import { TOPICS } from '../../core/bus/topics.ts';
import { expandMetricSamples, isMetricSamples, packProblem } from '../../core/model/metric-samples.ts';
import type { Exemplar, MetricPoint } from '../../core/model/records.ts';
import {
  EMPTY,
  checkAttributes,
  checkTimestamp,
  isObject,
  nanos,
  type MappedColumn,
  type TableTarget,
  type TopicMapping,
} from './mapping.ts';

/**
 * MetricPoint -> otel_metrics_gauge / _sum / _histogram / _exponential_histogram / _summary,
 * column for column as the OpenTelemetry Collector's ClickHouse exporter writes them. Nested
 * columns (Exemplars, ValueAtQuantiles) are one Array(Tuple) column where the table was created
 * with flatten_nested = 0, else one array column per field; both are served.
 */

/** OTel's AggregationTemporality enum; undefined for anything else. */
function temporalityOf(t: unknown): number | undefined {
  if (t === undefined || t === 'unspecified') return 0;
  if (t === 'delta') return 1;
  return t === 'cumulative' ? 2 : undefined;
}

const common: MappedColumn<MetricPoint>[] = [
  { name: 'ResourceAttributes', get: (m) => m.resource ?? EMPTY },
  { name: 'ServiceName', get: (m) => m.resource?.['service.name'], optional: true },
  { name: 'ScopeName', get: (m) => m.scope?.name, optional: true },
  { name: 'ScopeVersion', get: (m) => m.scope?.version, optional: true },
  { name: 'MetricName', get: (m) => m.name },
  { name: 'MetricDescription', get: (m) => m.description, optional: true },
  { name: 'MetricUnit', get: (m) => m.unit, optional: true },
  { name: 'Attributes', get: (m) => m.attributes ?? EMPTY },
  { name: 'StartTimeUnix', get: (m) => nanos(m.startTimeUnixNano), optional: true },
  { name: 'TimeUnix', get: (m) => nanos(m.timeUnixNano) },
];

const value: MappedColumn<MetricPoint> = { name: 'Value', get: (m) => m.value };
const temporality: MappedColumn<MetricPoint> = {
  name: 'AggregationTemporality',
  get: (m) => temporalityOf(m.temporality),
};

const GAUGE = 0;
const SUM = 1;
const HISTOGRAM = 2;
const EXPONENTIAL_HISTOGRAM = 3;
const SUMMARY = 4;

const flags: MappedColumn<MetricPoint> = { name: 'Flags', get: (m) => m.flags, optional: true };

const NOTHING: readonly unknown[] = Object.freeze([]);
/** One field of every exemplar; no new array for the (usual) point without exemplars. */
const exemplarField =
  (f: (e: Exemplar) => unknown) =>
  (m: MetricPoint): readonly unknown[] =>
    m.exemplars?.length ? m.exemplars.map(f) : NOTHING;

/** The Exemplars Nested column(s), if the table has them (exporter versions differ). */
function exemplarColumns(tableColumns: readonly string[]): MappedColumn<MetricPoint>[] {
  if (tableColumns.includes('Exemplars')) {
    return [
      {
        name: 'Exemplars',
        get: exemplarField((e) => ({
          FilteredAttributes: e.attributes ?? EMPTY,
          TimeUnix: nanos(e.timeUnixNano),
          Value: e.value,
          SpanId: e.spanId ?? '',
          TraceId: e.traceId ?? '',
        })),
      },
    ];
  }
  if (!tableColumns.includes('Exemplars.Value')) return [];
  return [
    { name: 'Exemplars.FilteredAttributes', get: exemplarField((e) => e.attributes ?? EMPTY) },
    { name: 'Exemplars.TimeUnix', get: exemplarField((e) => nanos(e.timeUnixNano)) },
    { name: 'Exemplars.Value', get: exemplarField((e) => e.value) },
    { name: 'Exemplars.SpanId', get: exemplarField((e) => e.spanId ?? '') },
    { name: 'Exemplars.TraceId', get: exemplarField((e) => e.traceId ?? '') },
  ];
}

/**
 * otel_metrics_exponential_histogram for a MetricPoint of type exponential_histogram: shared by
 * every source of such points (OTLP now, Prometheus native histograms from remote-write 2.0).
 */
export const exponentialHistogramTable: TableTarget<MetricPoint> = {
  table: 'otel_metrics_exponential_histogram',
  columns: (tableColumns) => [
    ...common,
    { name: 'Count', get: (m) => m.exponentialHistogram?.count },
    { name: 'Sum', get: (m) => m.exponentialHistogram?.sum },
    { name: 'Scale', get: (m) => m.exponentialHistogram?.scale },
    { name: 'ZeroCount', get: (m) => m.exponentialHistogram?.zeroCount },
    { name: 'PositiveOffset', get: (m) => m.exponentialHistogram?.positive.offset },
    { name: 'PositiveBucketCounts', get: (m) => m.exponentialHistogram?.positive.counts },
    { name: 'NegativeOffset', get: (m) => m.exponentialHistogram?.negative.offset },
    { name: 'NegativeBucketCounts', get: (m) => m.exponentialHistogram?.negative.counts },
    ...exemplarColumns(tableColumns),
    flags,
    { name: 'Min', get: (m) => m.exponentialHistogram?.min, optional: true },
    { name: 'Max', get: (m) => m.exponentialHistogram?.max, optional: true },
    temporality,
  ],
};

const quantilesOf = (m: MetricPoint) => m.summary?.quantiles ?? [];

export const summaryTable: TableTarget<MetricPoint> = {
  table: 'otel_metrics_summary',
  columns: (tableColumns) => [
    ...common,
    { name: 'Count', get: (m) => m.summary?.count },
    { name: 'Sum', get: (m) => m.summary?.sum },
    ...(tableColumns.includes('ValueAtQuantiles')
      ? [
          {
            name: 'ValueAtQuantiles',
            get: (m: MetricPoint) => quantilesOf(m).map((q) => ({ Quantile: q.quantile, Value: q.value })),
          },
        ]
      : [
          {
            name: 'ValueAtQuantiles.Quantile',
            get: (m: MetricPoint) => quantilesOf(m).map((q) => q.quantile),
          },
          { name: 'ValueAtQuantiles.Value', get: (m: MetricPoint) => quantilesOf(m).map((q) => q.value) },
        ]),
    flags,
  ],
};

const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isCounts = (v: unknown): boolean => Array.isArray(v) && v.every((c) => isInt(c) && (c as number) >= 0);

/** The shape of an exponential_histogram point's data; the reason when it cannot be stored. */
export function checkExponentialHistogram(h: unknown): string | undefined {
  if (!isObject(h)) return 'exponential_histogram metric without exponentialHistogram data';
  if (typeof h.count !== 'number' || typeof h.sum !== 'number')
    return 'exponentialHistogram count and sum must be numbers';
  if (!isInt(h.scale) || !isInt(h.zeroCount))
    return 'exponentialHistogram scale and zeroCount must be integers';
  for (const side of ['positive', 'negative'] as const) {
    const b = h[side];
    if (!isObject(b) || !isInt(b.offset) || !isCounts(b.counts))
      return `exponentialHistogram.${side} must be {offset: integer, counts: non-negative integers}`;
  }
  return undefined;
}

function checkSummary(s: unknown): string | undefined {
  if (!isObject(s)) return 'summary metric without summary data';
  if (typeof s.count !== 'number' || typeof s.sum !== 'number')
    return 'summary count and sum must be numbers';
  if (
    !Array.isArray(s.quantiles) ||
    !s.quantiles.every((q) => isObject(q) && typeof q.quantile === 'number' && typeof q.value === 'number')
  )
    return 'summary quantiles must be [{quantile, value}] numbers';
  return undefined;
}

function checkExemplars(e: unknown): string | undefined {
  if (e === undefined) return undefined;
  if (!Array.isArray(e) || !e.every((x) => isObject(x) && typeof x.value === 'number'))
    return 'exemplars must be [{timeUnixNano, value, attributes}]';
  for (const x of e as Record<string, unknown>[]) {
    const bad =
      checkTimestamp(x.timeUnixNano, 'exemplar timeUnixNano') ??
      checkAttributes(x.attributes, 'exemplar attributes');
    if (bad) return bad;
  }
  return undefined;
}

function checkHistogram(h: unknown): string | undefined {
  if (!isObject(h)) return 'histogram metric without histogram data';
  const { counts, bounds, count, sum } = h;
  if (!Array.isArray(counts) || !Array.isArray(bounds)) return 'histogram counts and bounds must be arrays';
  if (counts.length !== bounds.length + 1) {
    return `histogram needs one more count than bounds, got ${counts.length} counts for ${bounds.length} bounds`;
  }
  if (typeof count !== 'number' || typeof sum !== 'number') return 'histogram count and sum must be numbers';
  return undefined;
}

/** The columns a sample of a pack does not share with its series' head (MetricHead). */
const PER_SAMPLE = new Set(['TimeUnix', 'Value']);

/**
 * Marks every other column as a function of the head, which the writer gets as the group of
 * each expanded sample: the Native encoder then encodes a series' head once into its group store
 * and a later sample of the series adds only its time and value.
 */
function byHead(target: TableTarget<MetricPoint>): TableTarget<MetricPoint> {
  return {
    table: target.table,
    columns: (tableColumns) =>
      target.columns(tableColumns).map((c) => (PER_SAMPLE.has(c.name) ? c : { ...c, group: true })),
  };
}

export const metricsMapping: TopicMapping<MetricPoint> = {
  topic: TOPICS.metrics,
  tables: (
    [
      {
        table: 'otel_metrics_gauge',
        columns: (tableColumns) => [...common, value, ...exemplarColumns(tableColumns), flags],
      },
      {
        table: 'otel_metrics_sum',
        columns: (tableColumns) => [
          ...common,
          value,
          temporality,
          { name: 'IsMonotonic', get: (m) => m.monotonic === true },
          ...exemplarColumns(tableColumns),
          flags,
        ],
      },
      {
        table: 'otel_metrics_histogram',
        columns: (tableColumns) => [
          ...common,
          ...exemplarColumns(tableColumns),
          flags,
          { name: 'Count', get: (m) => m.histogram?.count },
          { name: 'Sum', get: (m) => m.histogram?.sum },
          { name: 'BucketCounts', get: (m) => m.histogram?.counts },
          { name: 'ExplicitBounds', get: (m) => m.histogram?.bounds },
          // The exporter writes 0 when a histogram has no min/max; so do we.
          { name: 'Min', get: (m) => m.histogram?.min, optional: true },
          { name: 'Max', get: (m) => m.histogram?.max, optional: true },
          temporality,
        ],
      },
      exponentialHistogramTable,
      summaryTable,
    ] satisfies TableTarget<MetricPoint>[]
  ).map(byHead),
  expand(value, each) {
    // A malformed pack is not expanded: route() then refuses it whole, naming the problem.
    if (!isMetricSamples(value) || packProblem(value) !== undefined) return false;
    expandMetricSamples(value, each);
    return true;
  },
  route(r) {
    if (!isObject(r)) return 'metric point is not an object';
    if (isMetricSamples(r)) return packProblem(r) ?? 'metric_samples pack inside a pack';
    if (typeof r.name !== 'string' || r.name === '') return 'metric point without a name';
    const bad =
      checkTimestamp(r.timeUnixNano, 'timeUnixNano') ??
      (r.startTimeUnixNano === undefined
        ? undefined
        : checkTimestamp(r.startTimeUnixNano, 'startTimeUnixNano')) ??
      checkAttributes(r.resource, 'resource') ??
      checkAttributes(r.attributes, 'attributes');
    if (bad) return bad;
    if (temporalityOf(r.temporality) === undefined) {
      return `unknown temporality ${JSON.stringify(r.temporality)}`;
    }
    switch (r.type) {
      case 'gauge':
        return GAUGE;
      case 'sum':
        return SUM;
      case 'histogram':
        return checkHistogram(r.histogram) ?? HISTOGRAM;
      case 'exponential_histogram':
        return (
          checkExponentialHistogram(r.exponentialHistogram) ??
          checkExemplars(r.exemplars) ??
          EXPONENTIAL_HISTOGRAM
        );
      case 'summary':
        return checkSummary(r.summary) ?? SUMMARY;
      default:
        return `unknown metric type ${JSON.stringify(r.type)} (gauge, sum, histogram, exponential_histogram or summary)`;
    }
  },
};
