import type { Migration } from '../ddl.ts';
import { ATTRS, LC, ZSTD, col } from './columns.ts';

/** Map entries as `key=value` strings, as the exporter's ALIAS columns define them. */
const items = (map: string): string =>
  `ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(${map}, 'Array(Tuple(String, String))'))`;

/**
 * The OTel exporter's otel_traces and its trace-id → time-range lookup (sqltemplates/traces_*.sql),
 * which lets "show me trace X" read one week partition instead of the whole retention.
 */
export const otelTraces: Migration = {
  version: 3,
  name: 'otel_traces',
  tables: [
    {
      name: 'otel_traces',
      columns: [
        col('Timestamp', 'DateTime64(9)', 'Delta(8), ZSTD(1)'),
        col('TraceId', 'String', ZSTD),
        col('SpanId', 'String', ZSTD),
        col('ParentSpanId', 'String', ZSTD),
        col('TraceState', 'String', ZSTD),
        col('SpanName', LC, ZSTD),
        col('SpanKind', LC, ZSTD),
        col('ServiceName', LC, ZSTD),
        col('ResourceAttributes', ATTRS, ZSTD),
        col('ScopeName', 'String', ZSTD),
        col('ScopeVersion', 'String', ZSTD),
        col('SpanAttributes', ATTRS, ZSTD),
        col('Duration', 'UInt64', 'T64, ZSTD(1)'),
        col('StatusCode', LC, ZSTD),
        col('StatusMessage', 'String', ZSTD),
        col('Events', `Nested (Timestamp DateTime64(9), Name ${LC}, Attributes ${ATTRS})`, ZSTD),
        col('Links', `Nested (TraceId String, SpanId String, TraceState String, Attributes ${ATTRS})`, ZSTD),
        col('ResourceAttributeItems', 'Array(String)', undefined, items('ResourceAttributes')),
        col('SpanAttributeItems', 'Array(String)', undefined, items('SpanAttributes')),
      ],
      indexes: [
        'idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1',
        'idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_duration Duration TYPE minmax GRANULARITY 1',
        'idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8',
      ],
      engine: 'MergeTree',
      partitionBy: 'toDate(Timestamp)',
      primaryKey: '(ServiceName, SpanName, toDateTime(Timestamp))',
      orderBy: '(ServiceName, SpanName, toDateTime(Timestamp), Timestamp)',
      ttl: { on: 'toDateTime(Timestamp)', days: 'traces' },
      settings: { ttl_only_drop_parts: 1 },
      // A whole trace on one shard, so trace views and span joins stay local.
      shardingKey: 'cityHash64(TraceId)',
    },
    {
      name: 'otel_traces_trace_id_ts',
      columns: [
        col('TraceId', 'String', ZSTD),
        col('Start', 'SimpleAggregateFunction(min, DateTime)', ZSTD),
        col('End', 'SimpleAggregateFunction(max, DateTime)', ZSTD),
      ],
      engine: 'AggregatingMergeTree',
      partitionBy: 'toStartOfWeek(Start)',
      orderBy: '(TraceId)',
      ttl: { on: 'toDateTime(Start)', days: 'traces' },
      settings: { ttl_only_drop_parts: 1 },
      shardingKey: 'cityHash64(TraceId)',
    },
  ],
  views: [
    {
      // Fed per insert block; the dedup window on the target drops a replayed block here too.
      name: 'otel_traces_trace_id_ts_mv',
      from: 'otel_traces',
      to: 'otel_traces_trace_id_ts',
      select: 'TraceId, min(Timestamp) AS Start, max(Timestamp) AS End',
      rest: "WHERE TraceId != ''\nGROUP BY TraceId",
    },
  ],
};
