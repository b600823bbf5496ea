import { ident, onCluster, qualified, storageName, type Migration, type SchemaOptions } from '../ddl.ts';

/**
 * known_errors gains `source` (as cmdb_ci and cmdb_rel have): a KEDB import replaces what the
 * same source imported before, retracting known errors absent from the new export.
 */
function addSource(options: SchemaOptions): string[] {
  const tables =
    options.cluster === undefined ? ['known_errors'] : [storageName('known_errors', options), 'known_errors'];
  return tables.map(
    (t) =>
      `ALTER TABLE ${qualified(t, options)}${onCluster(options)} ADD COLUMN IF NOT EXISTS ${ident('source')} LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)) AFTER ${ident('status')}`,
  );
}

export const knownErrorSource: Migration = {
  version: 12,
  name: 'known_error_source',
  statements: addSource,
};
