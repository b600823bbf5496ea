import { TOPICS } from '../../core/bus/topics.ts';
import type { MetricPoint } from '../../core/model/records.ts';
import {
  EMPTY,
  checkAttributes,
  checkTimestamp,
  isObject,
  nanos,
  type MappedColumn,
  type TopicMapping,
} from './mapping.ts';

/**
 * MetricPoint -> otel_metrics_gauge / otel_metrics_sum / otel_metrics_histogram, column for
 * column as the OpenTelemetry Collector's ClickHouse exporter writes them.
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

export const metricsMapping: TopicMapping<MetricPoint> = {
  topic: TOPICS.metrics,
  tables: [
    { table: 'otel_metrics_gauge', columns: () => [...common, value] },
    {
      table: 'otel_metrics_sum',
      columns: () => [
        ...common,
        value,
        temporality,
        { name: 'IsMonotonic', get: (m) => m.monotonic === true },
      ],
    },
    {
      table: 'otel_metrics_histogram',
      columns: () => [
        ...common,
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
  ],
  route(r) {
    if (!isObject(r)) return 'metric point is not an object';
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
      default:
        return `unknown metric type ${JSON.stringify(r.type)} (gauge, sum or histogram)`;
    }
  },
};
