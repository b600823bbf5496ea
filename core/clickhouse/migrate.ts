import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { logger } from '../log.ts';
import {
  createDatabase,
  ident,
  literal,
  migrationId,
  migrationStatements,
  onCluster,
  qualified,
  storageName,
  ttlDaysOf,
  ttlExpression,
  validateOptions,
  DEDUP_WINDOW,
  type Migration,
  type SchemaOptions,
  type TableSpec,
} from './ddl.ts';
import { migrations as defaultMigrations } from './schema/index.ts';

export type { Migration, SchemaOptions } from './ddl.ts';
export { migrations } from './schema/index.ts';

export type MigrateOptions = SchemaOptions;

export interface MigrateResult {
  /** Migrations applied by this run, e.g. `0003_otel_traces`. */
  applied: string[];
  /** Migrations already recorded in schema_migrations. */
  skipped: string[];
  /** Tables whose TTL was changed to match config.clickhouse.ttlDays. */
  ttlUpdated: string[];
  /** Applied migrations whose definition has changed since (a warning, not an error). */
  checksumMismatch: string[];
}

const log = logger('clickhouse.migrate');

const MIGRATIONS_TABLE = 'schema_migrations';

/**
 * Checksums are taken over a fixed rendering (one database name, single node, every TTL 1 day)
 * so that they change when a migration's definition changes, not when config does.
 */
const CANONICAL: SchemaOptions = {
  database: 'opsight',
  ttlDays: { metrics: 1, logs: 1, traces: 1, billing: 1, alerts: 1, deadLetters: 1 },
};

export function checksumOf(m: Migration): string {
  return createHash('sha256').update(migrationStatements(m, CANONICAL).join(';\n')).digest('hex');
}

function createMigrationsTable(options: SchemaOptions): string {
  // In a cluster the record must be visible from every node, so it is one replicated table
  // across all shards (no {shard} in the path; the replica name is made unique cluster-wide).
  const engine =
    options.cluster === undefined
      ? 'ReplacingMergeTree'
      : `ReplicatedReplacingMergeTree(${literal(`/clickhouse/tables/{database}/${MIGRATIONS_TABLE}`)}, ${literal('{shard}-{replica}')})`;
  const window =
    options.cluster === undefined ? 'non_replicated_deduplication_window' : 'replicated_deduplication_window';
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(MIGRATIONS_TABLE, options)}${onCluster(options)}`,
    '(\n    `version` UInt32,\n    `name` String,\n    `checksum` String,',
    "    `applied_at` DateTime64(3, 'UTC') DEFAULT now64(3)\n)",
    `ENGINE = ${engine}`,
    'ORDER BY version',
    `SETTINGS ${window} = ${DEDUP_WINDOW}`,
  ].join('\n');
}

function ordered(list: readonly Migration[]): Migration[] {
  const seen = new Set<number>();
  for (const m of list) {
    if (!Number.isInteger(m.version) || m.version <= 0) throw new Error(`bad migration version ${m.version}`);
    if (seen.has(m.version)) throw new Error(`duplicate migration version ${m.version}`);
    seen.add(m.version);
  }
  return [...list].sort((a, b) => a.version - b.version);
}

/**
 * Every statement that builds the schema, in order: what migrate() runs on an empty server,
 * for `opsight migrate --print` and deploy/ (the cluster schema). schema_migrations is created
 * but not filled; migrate() against such a server runs the idempotent statements once more and
 * records them.
 */
export function generateDdl(
  options: SchemaOptions,
  list: readonly Migration[] = defaultMigrations,
): string[] {
  validateOptions(options);
  return [
    createDatabase(options),
    createMigrationsTable(options),
    ...ordered(list).flatMap((m) => migrationStatements(m, options)),
  ];
}

/**
 * Brings the schema up to date: creates the database and schema_migrations if missing, applies
 * pending migrations in order and records each, then aligns TTLs with config. Every statement
 * names its database, so `client` may have any existing default database (use
 * connect(target, false): opsight's own database may not exist yet). Safe to run concurrently
 * from several processes: all DDL is IF NOT EXISTS and the records deduplicate.
 */
export async function migrate(
  client: ClickHouseClient,
  options: MigrateOptions,
  list: readonly Migration[] = defaultMigrations,
): Promise<MigrateResult> {
  validateOptions(options);
  const result: MigrateResult = { applied: [], skipped: [], ttlUpdated: [], checksumMismatch: [] };
  // wait_end_of_query: an ON CLUSTER DDL reports errors from other nodes only once it is done.
  const run = (query: string, settings: Record<string, number> = {}) =>
    client.command({ query, clickhouse_settings: { wait_end_of_query: 1, ...settings } });

  await run(createDatabase(options));
  await run(createMigrationsTable(options));
  const done = await appliedMigrations(client, options);

  for (const m of ordered(list)) {
    const id = migrationId(m);
    const checksum = checksumOf(m);
    const prev = done.get(m.version);
    if (prev) {
      result.skipped.push(id);
      if (prev.checksum !== checksum) {
        result.checksumMismatch.push(id);
        log.warn({ migration: id }, 'migration changed after it was applied; add a new migration instead');
      }
      continue;
    }
    const started = Date.now();
    for (const statement of migrationStatements(m, options)) await run(statement);
    await client.insert({
      table: qualified(MIGRATIONS_TABLE, options),
      values: [{ version: m.version, name: m.name, checksum }],
      format: 'JSONEachRow',
      // Two processes migrating at once record the version once.
      clickhouse_settings: { insert_deduplication_token: `${id}:${checksum}` },
    });
    result.applied.push(id);
    log.info({ migration: id, ms: Date.now() - started }, 'migration applied');
  }

  result.ttlUpdated = await reconcileTtl(client, options, list, run);
  return result;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function appliedMigrations(client: ClickHouseClient, options: SchemaOptions) {
  const rs = await client.query({
    query: `SELECT version, name, checksum FROM ${qualified(MIGRATIONS_TABLE, options)} FINAL ORDER BY version`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<AppliedRow>();
  return new Map(rows.map((r) => [Number(r.version), r]));
}

/** The table-level TTL expression in a create_table_query, without spaces or backticks. */
export function tableTtlOf(createTableQuery: string): string | undefined {
  const m = /\sTTL\s(.+?)(?:\sSETTINGS\s|$)/s.exec(createTableQuery);
  return m?.[1] === undefined ? undefined : normalize(m[1]);
}

function normalize(expr: string): string {
  return expr.replace(/[\s`]/g, '');
}

/**
 * Migrations fix a table's TTL at creation; this keeps it following config afterwards. A longer
 * or new TTL is materialized (or old parts would still expire on the old date); a shorter one is
 * not, so a config change never turns a restart into a bulk delete: old parts age out on their
 * original date.
 */
async function reconcileTtl(
  client: ClickHouseClient,
  options: SchemaOptions,
  list: readonly Migration[],
  run: (query: string, settings?: Record<string, number>) => Promise<unknown>,
): Promise<string[]> {
  const specs = new Map<string, TableSpec>();
  for (const m of ordered(list)) for (const t of m.tables ?? []) if (t.ttl) specs.set(t.name, t);
  if (specs.size === 0) return [];
  const names = [...specs.keys()].map((n) => storageName(n, options));
  const rs = await client.query({
    query:
      'SELECT name, create_table_query FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}',
    query_params: { db: options.database, names },
    format: 'JSONEachRow',
  });
  const current = new Map(
    (await rs.json<{ name: string; create_table_query: string }>()).map((r) => [
      r.name,
      r.create_table_query,
    ]),
  );
  const updated: string[] = [];
  for (const spec of specs.values()) {
    const table = storageName(spec.name, options);
    const query = current.get(table);
    if (query === undefined) continue;
    const have = tableTtlOf(query);
    const want = ttlExpression(spec, options);
    if (have === (want === undefined ? undefined : normalize(want))) continue;
    const target = `${ident(options.database)}.${ident(table)}${onCluster(options)}`;
    if (want === undefined) {
      await run(`ALTER TABLE ${target} REMOVE TTL`);
    } else {
      const oldDays = have === undefined ? undefined : Number(/toIntervalDay\((\d+)\)/.exec(have)?.[1]);
      const shrinking =
        oldDays !== undefined && spec.ttl !== undefined && ttlDaysOf(spec.ttl, options) < oldDays;
      await run(`ALTER TABLE ${target} MODIFY TTL ${want}`, {
        materialize_ttl_after_modify: shrinking ? 0 : 1,
      });
    }
    updated.push(spec.name);
    log.info({ table: spec.name, from: have ?? null, to: want ?? null }, 'table TTL follows config');
  }
  return updated;
}
