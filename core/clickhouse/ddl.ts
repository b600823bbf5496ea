import type { Config } from '../config/schema.ts';

/**
 * Table definitions as data, rendered to DDL for one node or for a cluster. Keeping columns as
 * data is what lets the cluster's `<name>_local` and Distributed `<name>` tables share exactly
 * the same columns, lets migrate() re-check TTLs against config, and lets tests compare the
 * generated text. Only validated identifiers and integers ever reach a DDL string: DDL cannot
 * take query parameters.
 */

export type TtlDays = Config['clickhouse']['ttlDays'];

export interface SchemaOptions {
  database: string;
  /** Set: ReplicatedMergeTree `<name>_local` + Distributed `<name>`, all DDL ON CLUSTER. */
  cluster?: string;
  ttlDays: TtlDays;
}

export interface Column {
  name: string;
  type: string;
  codec?: string;
  /** `DEFAULT expr`, `MATERIALIZED expr` or `ALIAS expr`, verbatim. */
  expr?: string;
}

export interface Ttl {
  /** A DateTime expression, written the way ClickHouse prints it back (see ttlClause). */
  on: string;
  /** A key of config.clickhouse.ttlDays, or a fixed number of days. */
  days: keyof TtlDays | number;
}

export interface TableSpec {
  name: string;
  columns: Column[];
  /** Skipping indexes, verbatim after `INDEX`. Distributed tables do not get them. */
  indexes?: string[];
  engine: 'MergeTree' | 'ReplacingMergeTree' | 'AggregatingMergeTree';
  /** Engine parameters (version / is_deleted columns), not the replication path. */
  engineArgs?: string[];
  partitionBy?: string;
  primaryKey?: string;
  orderBy: string;
  ttl?: Ttl;
  settings?: Record<string, string | number>;
  /**
   * Distributed sharding key. Deterministic on purpose (never rand()): a replayed batch must be
   * split across shards exactly as the first attempt so each shard drops its part by token.
   */
  shardingKey: string;
}

export interface MaterializedViewSpec {
  name: string;
  /** Tables named by their logical name; in cluster mode the view joins the `_local` tables. */
  from: string;
  to: string;
  /** The SELECT list and clauses after `FROM <from>`. */
  select: string;
  rest: string;
}

/** Every table the writer inserts into needs this for insert_deduplication_token to work. */
export const DEDUP_WINDOW = 1000;

const identRe = /^[A-Za-z_][A-Za-z0-9_]*$/;
const clusterRe = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Backtick-quotes an identifier; config already validated it, this keeps DDL safe regardless. */
export function ident(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** A single-quoted SQL string literal, for Distributed() arguments and replication paths. */
export function literal(text: string): string {
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

export function validateOptions(options: SchemaOptions): void {
  if (!identRe.test(options.database)) throw new Error(`invalid database name: ${options.database}`);
  if (options.cluster !== undefined && !clusterRe.test(options.cluster)) {
    throw new Error(`invalid cluster name: ${options.cluster}`);
  }
  for (const [key, days] of Object.entries(options.ttlDays)) {
    if (!Number.isInteger(days) || days < 0) throw new Error(`invalid ttlDays.${key}: ${days}`);
  }
}

export function onCluster(options: SchemaOptions): string {
  return options.cluster === undefined ? '' : ` ON CLUSTER ${ident(options.cluster)}`;
}

/** The physical table that holds the rows: `<name>_local` in a cluster, `<name>` otherwise. */
export function storageName(name: string, options: SchemaOptions): string {
  return options.cluster === undefined ? name : `${name}_local`;
}

/**
 * The target of a mutation (`ALTER TABLE <target> DELETE ...`) on a table's rows: the table
 * itself on one node; in a cluster the `_local` tables on every node, as ClickHouse refuses
 * mutations on a Distributed table.
 */
export function mutationTarget(name: string, cluster: string | undefined): string {
  if (cluster === undefined) return ident(name);
  if (!clusterRe.test(cluster)) throw new Error(`invalid cluster name: ${cluster}`);
  return `${ident(`${name}_local`)} ON CLUSTER ${ident(cluster)}`;
}

export function qualified(name: string, options: SchemaOptions): string {
  return `${ident(options.database)}.${ident(name)}`;
}

export function ttlDaysOf(ttl: Ttl, options: SchemaOptions): number {
  return typeof ttl.days === 'number' ? ttl.days : options.ttlDays[ttl.days];
}

/** The TTL expression as ClickHouse prints it in create_table_query; undefined for none (0). */
export function ttlExpression(spec: TableSpec, options: SchemaOptions): string | undefined {
  if (!spec.ttl) return undefined;
  const days = ttlDaysOf(spec.ttl, options);
  return days > 0 ? `${spec.ttl.on} + toIntervalDay(${days})` : undefined;
}

function columnLine(c: Column): string {
  let line = `${ident(c.name)} ${c.type}`;
  if (c.expr) line += ` ${c.expr}`;
  if (c.codec) line += ` CODEC(${c.codec})`;
  return line;
}

function engineClause(spec: TableSpec, options: SchemaOptions): string {
  const args = spec.engineArgs ?? [];
  if (options.cluster === undefined) {
    return `${spec.engine}${args.length ? `(${args.join(', ')})` : ''}`;
  }
  // {database} is expanded by the server, so the same path works for any configured database.
  const path = literal(`/clickhouse/tables/{shard}/{database}/${spec.name}`);
  return `Replicated${spec.engine}(${[path, literal('{replica}'), ...args].join(', ')})`;
}

function settingsClause(spec: TableSpec, options: SchemaOptions): string {
  const settings: Record<string, string | number> = { index_granularity: 8192, ...spec.settings };
  // Replicated tables deduplicate by replicated_deduplication_window instead (default 1000 on
  // current servers, set explicitly so an older server's 100 does not shrink the replay window).
  if (options.cluster === undefined) settings.non_replicated_deduplication_window = DEDUP_WINDOW;
  else settings.replicated_deduplication_window = DEDUP_WINDOW;
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}`)
    .join(', ');
}

/** CREATE TABLE for the storage table (and the Distributed table in cluster mode). */
export function createTable(spec: TableSpec, options: SchemaOptions): string[] {
  const local = storageName(spec.name, options);
  const body = [...spec.columns.map(columnLine), ...(spec.indexes ?? []).map((i) => `INDEX ${i}`)];
  const lines = [
    `CREATE TABLE IF NOT EXISTS ${qualified(local, options)}${onCluster(options)}`,
    `(\n    ${body.join(',\n    ')}\n)`,
    `ENGINE = ${engineClause(spec, options)}`,
  ];
  if (spec.partitionBy) lines.push(`PARTITION BY ${spec.partitionBy}`);
  if (spec.primaryKey) lines.push(`PRIMARY KEY ${spec.primaryKey}`);
  lines.push(`ORDER BY ${spec.orderBy}`);
  const ttl = ttlExpression(spec, options);
  if (ttl) lines.push(`TTL ${ttl}`);
  lines.push(`SETTINGS ${settingsClause(spec, options)}`);
  const statements = [lines.join('\n')];
  if (options.cluster !== undefined) statements.push(createDistributed(spec, options));
  return statements;
}

function createDistributed(spec: TableSpec, options: SchemaOptions): string {
  const cluster = options.cluster as string;
  const args = [
    literal(cluster),
    literal(options.database),
    literal(storageName(spec.name, options)),
    spec.shardingKey,
  ];
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(spec.name, options)}${onCluster(options)}`,
    `(\n    ${spec.columns.map(columnLine).join(',\n    ')}\n)`,
    `ENGINE = Distributed(${args.join(', ')})`,
  ].join('\n');
}

/** A materialized view between storage tables; each shard maintains its own in a cluster. */
export function createMaterializedView(mv: MaterializedViewSpec, options: SchemaOptions): string[] {
  return [
    [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(mv.name, options)}${onCluster(options)}`,
      `TO ${qualified(storageName(mv.to, options), options)}`,
      `AS SELECT ${mv.select}`,
      `FROM ${qualified(storageName(mv.from, options), options)}`,
      mv.rest,
    ].join('\n'),
  ];
}

export function createDatabase(options: SchemaOptions): string {
  return `CREATE DATABASE IF NOT EXISTS ${ident(options.database)}${onCluster(options)}`;
}

/**
 * One numbered migration. Applied migrations are never edited: a change to a table is a new
 * migration (ALTER ... IF NOT EXISTS), so every server converges on the same schema.
 */
export interface Migration {
  version: number;
  name: string;
  tables?: TableSpec[];
  views?: MaterializedViewSpec[];
  /** Further statements (ALTERs), run after the tables and views; must be idempotent. */
  statements?: (options: SchemaOptions) => string[];
}

export function migrationId(m: Pick<Migration, 'version' | 'name'>): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}`;
}

export function migrationStatements(m: Migration, options: SchemaOptions): string[] {
  return [
    ...(m.tables ?? []).flatMap((t) => createTable(t, options)),
    ...(m.views ?? []).flatMap((v) => createMaterializedView(v, options)),
    ...(m.statements?.(options) ?? []),
  ];
}
