import { ident, onCluster, qualified, storageName, type Migration } from '../ddl.ts';
import { LC, TS3, ZSTD, col } from './columns.ts';

/**
 * billing_loads gains the object's ETag, so an S3 billing source knows an object it loaded by
 * key + ETag (rows written before have '' and fall back to size and mtime). file_loads
 * remembers what `opsight ingest file` loaded, by content hash, so a file loads once.
 */
export const fileLoads: Migration = {
  version: 10,
  name: 'file_loads',
  tables: [
    {
      name: 'file_loads',
      columns: [
        col('sha256', 'String', ZSTD),
        col('path', 'String', ZSTD),
        col('kind', LC, ZSTD),
        col('format', LC, ZSTD),
        col('size', 'UInt64', ZSTD),
        col('rows', 'UInt64', ZSTD),
        col('rejected', 'UInt64', ZSTD),
        col('at', TS3, 'Delta, ZSTD(1)', 'DEFAULT now64(3)'),
      ],
      engine: 'MergeTree',
      orderBy: '(sha256, at)',
      shardingKey: 'cityHash64(sha256)',
    },
  ],
  statements: (options) => {
    const add = `ADD COLUMN IF NOT EXISTS ${ident('etag')} String CODEC(ZSTD(1)) AFTER ${ident('sha256')}`;
    const tables = [storageName('billing_loads', options)];
    if (options.cluster !== undefined) tables.push('billing_loads');
    return tables.map((t) => `ALTER TABLE ${qualified(t, options)}${onCluster(options)} ${add}`);
  },
};
