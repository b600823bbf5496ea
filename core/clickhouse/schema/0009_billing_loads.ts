import type { Migration } from '../ddl.ts';
import { LC, TS3, ZSTD, col } from './columns.ts';

/**
 * What each billing source loaded: file identity (path, size, mtime, content hash), the billing
 * periods it held and the outcome, so every export file is loaded once and a restated file
 * replaces its periods (ingest/billing/loads.ts).
 */
export const billingLoads: Migration = {
  version: 9,
  name: 'billing_loads',
  tables: [
    {
      name: 'billing_loads',
      columns: [
        col('source', LC, ZSTD),
        col('path', 'String', ZSTD),
        col('size', 'UInt64', ZSTD),
        col('mtime', TS3, ZSTD),
        col('sha256', 'String', ZSTD),
        col('status', "Enum8('loading' = 1, 'done' = 2, 'failed' = 3)", ZSTD),
        col('periods', `Array(${TS3})`, ZSTD),
        col('rows', 'UInt64', ZSTD),
        col('rejected', 'UInt64', ZSTD),
        col('error', 'String', ZSTD),
        col('at', TS3, 'Delta, ZSTD(1)', 'DEFAULT now64(3)'),
      ],
      engine: 'MergeTree',
      orderBy: '(source, path, at)',
      shardingKey: 'cityHash64(source, path)',
    },
  ],
};
