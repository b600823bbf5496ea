import { ident, qualified, onCluster, storageName, type Migration, type SchemaOptions } from '../ddl.ts';

/**
 * The values a log line had at its template's variables (ingest stamps TemplateId and these
 * with the template miner), in order, so a panel can group by template and still show which
 * host or user it was without re-parsing Body.
 */
function addColumn(options: SchemaOptions): string[] {
  const tables =
    options.cluster === undefined ? ['otel_logs'] : [storageName('otel_logs', options), 'otel_logs'];
  return tables.map(
    (t) =>
      `ALTER TABLE ${qualified(t, options)}${onCluster(options)} ADD COLUMN IF NOT EXISTS ${ident(
        'TemplateParams',
      )} Array(String) CODEC(ZSTD(1)) AFTER ${ident('TemplateId')}`,
  );
}

export const logTemplateParams: Migration = {
  version: 13,
  name: 'log_template_params',
  statements: addColumn,
};
