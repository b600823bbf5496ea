import type { Migration } from '../ddl.ts';
import { LC, TS3, ZSTD, col } from './columns.ts';

/** The pipeline's own bookkeeping: what could not be stored, and which batches the writer cut. */
export const pipeline: Migration = {
  version: 8,
  name: 'pipeline',
  tables: [
    {
      name: 'dead_letters',
      columns: [
        col('received_at', TS3, 'Delta, ZSTD(1)'),
        col('topic', LC, ZSTD),
        col('partition', 'UInt32', ZSTD),
        col('offset', 'UInt64', 'Delta, ZSTD(1)'),
        col('key', 'String', ZSTD),
        col('source', LC, ZSTD),
        col('reason', 'String', ZSTD),
        col('payload', 'String', 'ZSTD(3)'),
      ],
      engine: 'MergeTree',
      partitionBy: 'toDate(received_at)',
      orderBy: '(topic, partition, offset, received_at)',
      ttl: { on: 'toDateTime(received_at)', days: 'deadLetters' },
      settings: { ttl_only_drop_parts: 1 },
      shardingKey: 'cityHash64(topic, partition, offset)',
    },
    {
      // Recorded before each insert so a replay after a crash re-cuts identical batches (and so
      // reuses the same deduplication tokens).
      name: 'ingest_batches',
      columns: [
        col('group', LC, ZSTD),
        col('topic', LC, ZSTD),
        col('partition', 'UInt32', ZSTD),
        col('first_offset', 'UInt64', 'Delta, ZSTD(1)'),
        col('last_offset', 'UInt64', 'Delta, ZSTD(1)'),
        col('table', 'String', ZSTD),
        col('created_at', 'DateTime64(3)', 'Delta, ZSTD(1)'),
      ],
      // Recording the same range twice (a crash between record and insert) leaves one row.
      engine: 'ReplacingMergeTree',
      engineArgs: ['created_at'],
      partitionBy: 'toDate(created_at)',
      orderBy: '(group, topic, partition, first_offset)',
      ttl: { on: 'toDateTime(created_at)', days: 7 },
      settings: { ttl_only_drop_parts: 1 },
      shardingKey: 'cityHash64(group, topic, partition)',
    },
  ],
};
