import type { Migration } from '../ddl.ts';
import { ATTRS, LC, TS3, ZSTD, col } from './columns.ts';

const maybeNumber = 'Nullable(Float64)';

/** Alerts as received (one row per firing/resolved notification) and incidents as versions. */
export const alertsIncidents: Migration = {
  version: 5,
  name: 'alerts_incidents',
  tables: [
    {
      name: 'alerts',
      columns: [
        col('received_at', TS3, 'Delta, ZSTD(1)'),
        col('fingerprint', 'String', ZSTD),
        col('source', LC, ZSTD),
        col('kind', LC, ZSTD),
        col('status', LC, ZSTD),
        col('severity', LC, ZSTD),
        col('service', LC, ZSTD),
        col('ci_hint', 'String', ZSTD),
        col('labels', ATTRS, ZSTD),
        col('annotations', ATTRS, ZSTD),
        col('starts_at', TS3, 'Delta, ZSTD(1)'),
        // Null while firing: "no end" must not read as 1970.
        col('ends_at', `Nullable(${TS3})`, ZSTD),
        col('score', maybeNumber, ZSTD),
        col('evidence_series', 'String', ZSTD),
        col('evidence_observed', maybeNumber, ZSTD),
        col('evidence_expected', maybeNumber, ZSTD),
        col('evidence_lower', maybeNumber, ZSTD),
        col('evidence_upper', maybeNumber, ZSTD),
        col('evidence_query', 'String', ZSTD),
      ],
      indexes: [
        'idx_fingerprint fingerprint TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_label_key mapKeys(labels) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_label_value mapValues(labels) TYPE bloom_filter(0.01) GRANULARITY 1',
      ],
      engine: 'MergeTree',
      partitionBy: 'toDate(received_at)',
      orderBy: '(service, fingerprint, received_at)',
      ttl: { on: 'toDateTime(received_at)', days: 'alerts' },
      settings: { ttl_only_drop_parts: 1 },
      shardingKey: 'cityHash64(fingerprint)',
    },
    {
      // Every change is a new row with a higher version; read with FINAL (or argMax by version).
      name: 'incidents',
      columns: [
        col('id', 'String', ZSTD),
        col('version', 'UInt64', ZSTD),
        col('status', LC, ZSTD),
        col('severity', LC, ZSTD),
        col('title', 'String', ZSTD),
        col('service', LC, ZSTD),
        col('alert_fingerprints', 'Array(String)', ZSTD),
        col('alert_count', 'UInt32', ZSTD),
        col('affected_cis', 'Array(String)', ZSTD),
        // JSON arrays of { ci, score, reason } / { id, score, workaround } / { at, event }.
        col('root_causes', 'String', ZSTD),
        col('known_errors', 'String', ZSTD),
        col('timeline', 'String', ZSTD),
        col('first_seen', TS3, ZSTD),
        col('last_seen', TS3, ZSTD),
        col('notified', 'Array(String)', ZSTD),
        col('updated_at', TS3, ZSTD, 'DEFAULT now64(3)'),
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: ['version'],
      // first_seen never changes for an incident, so all its versions share a partition and
      // can replace each other.
      partitionBy: 'toYYYYMM(first_seen)',
      orderBy: 'id',
      ttl: { on: 'toDateTime(last_seen)', days: 'alerts' },
      shardingKey: 'cityHash64(id)',
    },
  ],
};
