import type { Column } from '../ddl.ts';

/** Shorthand for column lists: name, type, codec, then DEFAULT/MATERIALIZED/ALIAS. */
export function col(name: string, type: string, codec?: string, expr?: string): Column {
  return { name, type, ...(codec ? { codec } : {}), ...(expr ? { expr } : {}) };
}

export const ATTRS = 'Map(LowCardinality(String), String)';
export const LC = 'LowCardinality(String)';
export const TS3 = "DateTime64(3, 'UTC')";
export const ZSTD = 'ZSTD(1)';
