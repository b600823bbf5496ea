/**
 * How a bus topic becomes rows: a TopicMapping checks each record's shape, picks its table and
 * reads column values from it. The writer compiles one RowBinary encoder per table from these
 * and the table's real column types, so adding a topic -> table is one new map-*.ts file.
 */

export interface MappedColumn<R> {
  /** The ClickHouse column. */
  name: string;
  // Method syntax on purpose: bivariant, so a TopicMapping<MetricPoint> is a TopicMapping<unknown>.
  get(record: R): unknown;
  /** undefined/null writes the column type's zero value instead of rejecting the record. */
  optional?: boolean;
  /** The column is opsight's addition and may be absent from the table: then it is skipped. */
  ifExists?: boolean;
  /**
   * The value depends only on the record's group (what `expand` hands out beside it), so the
   * encoder encodes it once per group and reuses that for the group's other rows.
   */
  group?: boolean;
}

export interface TableTarget<R> {
  table: string;
  /**
   * The columns this mapping fills, given the table's insertable columns (so a mapping can map
   * by name). Columns left out take their table DEFAULT.
   */
  columns: (tableColumns: readonly string[]) => MappedColumn<R>[];
}

export interface TopicMapping<R = unknown> {
  topic: string;
  tables: TableTarget<R>[];
  /**
   * Checks one record's shape and returns the index of its table in `tables`, or the reason it
   * cannot be stored (it then goes to dead_letters). Values are checked by the encoder.
   */
  route(record: unknown): number | string;
  /**
   * A message value that packs many records (e.g. MetricSamples): hands each to `each` and
   * returns true; false for anything else (one record, or an array of them). `group` is an
   * object the record shares with others whose `group` columns and route are the same (a
   * series' head): the writer then routes and encodes those columns once per group.
   */
  expand?(value: unknown, each: (record: unknown, group?: object) => void): boolean;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Attribute maps may be absent on a record; they are written as empty maps. */
export const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** A timestamp field's shape: nanoseconds as bigint, digit string or number; else the reason. */
export function checkTimestamp(v: unknown, field: string): string | undefined {
  if (typeof v === 'bigint' || typeof v === 'string') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return undefined;
  return `${field} must be Unix nanoseconds (string or bigint), got ${v === undefined ? 'nothing' : JSON.stringify(String(v))}`;
}

export function checkAttributes(v: unknown, field: string): string | undefined {
  return v === undefined || isObject(v) ? undefined : `${field} must be an object of strings`;
}

/**
 * Nanosecond timestamps for the encoder, which reads numbers as milliseconds: a number here
 * is nanoseconds (imprecise beyond 2^53, but a record is better stored than dropped).
 */
export function nanos(v: unknown): unknown {
  return typeof v === 'number' ? String(Math.round(v)) : v;
}
