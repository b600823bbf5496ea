import type { Migration } from '../ddl.ts';
import { LC, TS3, ZSTD, col } from './columns.ts';

/** State the detectors keep across restarts: mined log templates and per-key model state. */
export const detectorTables: Migration = {
  version: 7,
  name: 'detector_tables',
  tables: [
    {
      // Miners insert deltas (count seen since the last flush); merges fold them, readers
      // GROUP BY (service, template_id) or use FINAL. No TTL: dropping an old delta would
      // lose first_seen and part of the count.
      name: 'log_templates',
      columns: [
        col('service', LC, ZSTD),
        col('template_id', 'String', ZSTD),
        col('template', 'SimpleAggregateFunction(anyLast, String)', ZSTD),
        col('first_seen', `SimpleAggregateFunction(min, ${TS3})`, ZSTD),
        col('last_seen', `SimpleAggregateFunction(max, ${TS3})`, ZSTD),
        col('count', 'SimpleAggregateFunction(sum, UInt64)', ZSTD),
        col('sample', 'SimpleAggregateFunction(any, String)', ZSTD),
        col('severity_text', 'SimpleAggregateFunction(anyLast, LowCardinality(String))', ZSTD),
      ],
      engine: 'AggregatingMergeTree',
      orderBy: '(service, template_id)',
      shardingKey: 'cityHash64(service, template_id)',
    },
    {
      name: 'detector_state',
      columns: [
        col('detector', LC, ZSTD),
        col('key', 'String', ZSTD),
        // Opaque to ClickHouse: JSON or binary, as the detector chooses.
        col('state', 'String', 'ZSTD(3)'),
        col('updated_at', TS3, ZSTD, 'DEFAULT now64(3)'),
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: ['updated_at'],
      orderBy: '(detector, key)',
      shardingKey: 'cityHash64(detector, key)',
    },
  ],
};
