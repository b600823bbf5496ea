import type { NativeRecord, NativeValue } from './types.ts';

/**
 * What a container reader (CSV, JSON lines, Parquet) hands the loader: the file's top-level
 * column names (for format detection) and its records in batches, each with its position
 * (CSV/JSON lines: the line; Parquet: the 1-based record number).
 */

export type RecordItem =
  | { line: number; record: NativeRecord }
  | { line: number; error: string; raw: Record<string, string> | string[] | string };

/**
 * Rows [from, to) of columnar values (values[c][row], c in `columns` order); row r is record
 * number firstLine + r. The arrays may hold rows beyond the slice; nothing may change them.
 */
export interface ColumnSlice {
  values: readonly (readonly NativeValue[])[];
  from: number;
  to: number;
  firstLine: number;
}

export interface RecordFile {
  columns: string[];
  /** Read once; ends the file when done or abandoned. */
  batches(): AsyncGenerator<RecordItem[]>;
  /**
   * The same records by column, without an object per record (Parquet): read instead of
   * batches() by a mapper that takes values by position. Read once, like batches().
   */
  columnSlices?(): AsyncGenerator<ColumnSlice>;
  close(): Promise<void>;
}

export const isRecordError = (i: RecordItem): i is Extract<RecordItem, { error: string }> => 'error' in i;
