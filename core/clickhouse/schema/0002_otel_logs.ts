import type { Migration } from '../ddl.ts';
import { ATTRS, LC, ZSTD, col } from './columns.ts';

/** The exporter's hot resource keys, materialized so filters skip the map (upstream PR #47720). */
const materialized = [
  'k8s.cluster.name',
  'k8s.container.name',
  'k8s.deployment.name',
  'k8s.namespace.name',
  'k8s.node.name',
  'k8s.pod.name',
  'k8s.pod.uid',
  'deployment.environment.name',
].map((key) => col(`__otel_materialized_${key}`, LC, ZSTD, `MATERIALIZED ResourceAttributes['${key}']`));

/** The OTel exporter's otel_logs (sqltemplates/logs_table.sql, bloom-filter variant). */
export const otelLogs: Migration = {
  version: 2,
  name: 'otel_logs',
  tables: [
    {
      name: 'otel_logs',
      columns: [
        col('Timestamp', 'DateTime64(9)', 'Delta(8), ZSTD(1)'),
        col('TraceId', 'String', ZSTD),
        col('SpanId', 'String', ZSTD),
        col('TraceFlags', 'UInt8'),
        col('SeverityText', LC, ZSTD),
        col('SeverityNumber', 'UInt8'),
        col('ServiceName', LC, ZSTD),
        col('Body', 'String', ZSTD),
        col('ResourceSchemaUrl', LC, ZSTD),
        col('ResourceAttributes', ATTRS, ZSTD),
        col('ScopeSchemaUrl', LC, ZSTD),
        col('ScopeName', 'String', ZSTD),
        col('ScopeVersion', LC, ZSTD),
        col('ScopeAttributes', ATTRS, ZSTD),
        col('LogAttributes', ATTRS, ZSTD),
        col('EventName', 'String', ZSTD),
        ...materialized,
        // opsight: the exporter dropped TimestampTime in v0.151, but the Grafana plugin's OTel
        // logs query still selects it; keeping it costs little and keeps both working.
        col('TimestampTime', 'DateTime', undefined, 'DEFAULT toDateTime(Timestamp)'),
        // opsight: the log template (detect/logs mining), empty until mined.
        col('TemplateId', LC, ZSTD),
      ],
      indexes: [
        'idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1',
        'idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8',
        'idx_template_id TemplateId TYPE bloom_filter(0.01) GRANULARITY 1',
      ],
      engine: 'MergeTree',
      partitionBy: 'toDate(Timestamp)',
      orderBy: '(toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)',
      ttl: { on: 'toDateTime(Timestamp)', days: 'logs' },
      settings: { ttl_only_drop_parts: 1 },
      // Logs of a trace sit on the trace's shard (see otel_traces); the rest spread evenly.
      shardingKey: "if(TraceId != '', cityHash64(TraceId), cityHash64(ServiceName, Timestamp))",
    },
  ],
};
