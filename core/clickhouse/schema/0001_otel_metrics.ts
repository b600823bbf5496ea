import type { Migration, TableSpec } from '../ddl.ts';
import { ATTRS, LC, ZSTD, col } from './columns.ts';

/**
 * The OpenTelemetry Collector ClickHouse exporter's metric tables (sqltemplates/metrics_*_table.sql
 * with LowCardinality MetricName and the hour-bucketed sort key), column for column, so Grafana's
 * ClickHouse plugin and other OTel tools read them unchanged. Time columns stay DateTime64(9), as in
 * most exporter releases: Prometheus samples carry milliseconds and OTLP nanoseconds, and
 * truncating them to seconds would merge distinct samples.
 */

const head = [
  col('ResourceAttributes', ATTRS, ZSTD),
  col('ResourceSchemaUrl', 'String', ZSTD),
  col('ScopeName', 'String', ZSTD),
  col('ScopeVersion', 'String', ZSTD),
  col('ScopeAttributes', ATTRS, ZSTD),
  col('ScopeDroppedAttrCount', 'UInt32', ZSTD),
  col('ScopeSchemaUrl', 'String', ZSTD),
  col('ServiceName', LC, ZSTD),
  col('MetricName', LC, ZSTD),
  col('MetricDescription', 'String', ZSTD),
  col('MetricUnit', 'String', ZSTD),
  col('Attributes', ATTRS, ZSTD),
  col('StartTimeUnix', 'DateTime64(9)', 'Delta, ZSTD(1)'),
  col('TimeUnix', 'DateTime64(9)', 'Delta, ZSTD(1)'),
];

const exemplars = col(
  'Exemplars',
  `Nested (FilteredAttributes ${ATTRS}, TimeUnix DateTime64(9), Value Float64, SpanId String, TraceId String)`,
  ZSTD,
);

const indexes = [
  'idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1',
];

function metricTable(name: string, columns: TableSpec['columns']): TableSpec {
  return {
    name,
    columns: [...head, ...columns],
    indexes,
    engine: 'MergeTree',
    partitionBy: 'toDate(TimeUnix)',
    orderBy: '(ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)',
    ttl: { on: 'toDateTime(TimeUnix)', days: 'metrics' },
    settings: { ttl_only_drop_parts: 1 },
    // One series always lands on one shard (the writer sorts attribute maps, so equal sets hash equal).
    shardingKey: 'cityHash64(ServiceName, MetricName, ResourceAttributes, Attributes)',
  };
}

const count = col('Count', 'UInt64', 'Delta, ZSTD(1)');
const sum = col('Sum', 'Float64', ZSTD);
const flags = col('Flags', 'UInt32', ZSTD);
const min = col('Min', 'Float64', ZSTD);
const max = col('Max', 'Float64', ZSTD);
const temporality = col('AggregationTemporality', 'Int32', ZSTD);

export const otelMetrics: Migration = {
  version: 1,
  name: 'otel_metrics',
  tables: [
    metricTable('otel_metrics_gauge', [col('Value', 'Float64', ZSTD), flags, exemplars]),
    metricTable('otel_metrics_sum', [
      col('Value', 'Float64', ZSTD),
      flags,
      exemplars,
      temporality,
      col('IsMonotonic', 'Boolean', 'Delta, ZSTD(1)'),
    ]),
    metricTable('otel_metrics_histogram', [
      count,
      sum,
      col('BucketCounts', 'Array(UInt64)', ZSTD),
      col('ExplicitBounds', 'Array(Float64)', ZSTD),
      exemplars,
      flags,
      min,
      max,
      temporality,
    ]),
    metricTable('otel_metrics_exponential_histogram', [
      count,
      sum,
      col('Scale', 'Int32', ZSTD),
      col('ZeroCount', 'UInt64', ZSTD),
      col('PositiveOffset', 'Int32', ZSTD),
      col('PositiveBucketCounts', 'Array(UInt64)', ZSTD),
      col('NegativeOffset', 'Int32', ZSTD),
      col('NegativeBucketCounts', 'Array(UInt64)', ZSTD),
      exemplars,
      flags,
      min,
      max,
      temporality,
    ]),
    metricTable('otel_metrics_summary', [
      count,
      sum,
      col('ValueAtQuantiles', 'Nested (Quantile Float64, Value Float64)', ZSTD),
      flags,
    ]),
  ],
};
