import { ident, qualified, onCluster, storageName, type Migration, type SchemaOptions } from '../ddl.ts';

/**
 * The triage the correlator attaches to an incident beyond 0005's columns: priority, blast
 * radius, affected CIs with onsets, suspect changes, acknowledge/resolve times (MTTA, MTTR)
 * and the cost grouping key.
 */
const COLUMNS: [string, string][] = [
  ['priority', "LowCardinality(String) DEFAULT ''"],
  ['blast_radius', 'Array(String)'],
  ['affected', "String DEFAULT '[]'"],
  ['changes', "String DEFAULT '[]'"],
  ['acknowledged_at', "Nullable(DateTime64(3, 'UTC'))"],
  ['resolved_at', "Nullable(DateTime64(3, 'UTC'))"],
  ['cost_key', "String DEFAULT ''"],
];

function addColumns(options: SchemaOptions): string[] {
  const tables =
    options.cluster === undefined ? ['incidents'] : [storageName('incidents', options), 'incidents'];
  return tables.map(
    (t) =>
      `ALTER TABLE ${qualified(t, options)}${onCluster(options)} ${COLUMNS.map(
        ([name, type]) => `ADD COLUMN IF NOT EXISTS ${ident(name)} ${type}`,
      ).join(', ')}`,
  );
}

export const incidentTriage: Migration = {
  version: 11,
  name: 'incident_triage',
  statements: addColumns,
};
