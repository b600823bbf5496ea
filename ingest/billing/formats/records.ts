import type { NativeRecord } from './types.ts';

/**
 * What a container reader (CSV, JSON lines, Parquet) hands the loader: the file's top-level
 * column names (for format detection) and its records in batches, each with its position
 * (CSV/JSON lines: the line; Parquet: the 1-based record number).
 */

export type RecordItem =
  | { line: number; record: NativeRecord }
  | { line: number; error: string; raw: Record<string, string> | string[] | string };

export interface RecordFile {
  columns: string[];
  /** Read once; ends the file when done or abandoned. */
  batches(): AsyncGenerator<RecordItem[]>;
  close(): Promise<void>;
}

export const isRecordError = (i: RecordItem): i is Extract<RecordItem, { error: string }> => 'error' in i;
