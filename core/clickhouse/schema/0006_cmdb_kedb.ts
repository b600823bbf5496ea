import type { Migration } from '../ddl.ts';
import { ATTRS, LC, TS3, ZSTD, col } from './columns.ts';

const updatedAt = col('updated_at', TS3, ZSTD, 'DEFAULT now64(3)');

/**
 * CMDB (CIs, relations, changes) and the known-error database. Small dimension tables, so no
 * partitions or TTL; the latest row per key wins (ReplacingMergeTree), `deleted = 1` retracts.
 */
export const cmdbKedb: Migration = {
  version: 6,
  name: 'cmdb_kedb',
  tables: [
    {
      name: 'cmdb_ci',
      columns: [
        col('id', 'String', ZSTD),
        col('name', 'String', ZSTD),
        col('class', LC, ZSTD),
        col('service', LC, ZSTD),
        col('owner_group', LC, ZSTD),
        col('environment', LC, ZSTD),
        col('criticality', LC, ZSTD),
        col('attributes', ATTRS, ZSTD),
        // Seen in telemetry rather than imported from a CMDB export.
        col('discovered', 'Bool'),
        col('source', LC, ZSTD),
        col('deleted', 'UInt8'),
        updatedAt,
      ],
      indexes: ['idx_name name TYPE bloom_filter(0.01) GRANULARITY 1'],
      engine: 'ReplacingMergeTree',
      // With is_deleted, FINAL hides retracted CIs.
      engineArgs: ['updated_at', 'deleted'],
      orderBy: 'id',
      shardingKey: 'cityHash64(id)',
    },
    {
      name: 'cmdb_rel',
      columns: [
        col('parent', 'String', ZSTD),
        col('child', 'String', ZSTD),
        col('type', LC, ZSTD),
        col('source', LC, ZSTD),
        col('deleted', 'UInt8'),
        updatedAt,
      ],
      // Walks from a failing CI up to what depends on it filter on child.
      indexes: ['idx_child child TYPE bloom_filter(0.01) GRANULARITY 1'],
      engine: 'ReplacingMergeTree',
      engineArgs: ['updated_at', 'deleted'],
      orderBy: '(parent, child, type)',
      shardingKey: 'cityHash64(parent, child, type)',
    },
    {
      // Deploys, config changes and the like per CI: the first suspects when a CI fails.
      name: 'changes',
      columns: [
        col('ci', 'String', ZSTD),
        col('time', TS3, 'Delta, ZSTD(1)'),
        col('kind', LC, ZSTD),
        col('id', 'String', ZSTD),
        col('description', 'String', ZSTD),
        col('link', 'String', ZSTD),
        col('source', LC, ZSTD),
      ],
      // A re-sent change (same ci, time, id) collapses into one row.
      engine: 'ReplacingMergeTree',
      partitionBy: 'toYYYYMM(time)',
      orderBy: '(ci, time, id)',
      ttl: { on: 'toDateTime(time)', days: 'alerts' },
      shardingKey: 'cityHash64(ci)',
    },
    {
      name: 'known_errors',
      columns: [
        col('id', 'String', ZSTD),
        col('title', 'String', ZSTD),
        // Patterns matched against alerts and log templates (kedb/ decides their syntax).
        col('symptoms', 'Array(String)', ZSTD),
        // Where the error applies: CI ids, services or classes.
        col('scope', 'Array(String)', ZSTD),
        col('workaround', 'String', ZSTD),
        col('problem_ref', 'String', ZSTD),
        col('status', LC, ZSTD),
        col('deleted', 'UInt8'),
        updatedAt,
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: ['updated_at', 'deleted'],
      orderBy: 'id',
      shardingKey: 'cityHash64(id)',
    },
  ],
};
