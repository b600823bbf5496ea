import type { KnownError } from '../engine/model.ts';

export const KEDB_FORMATS = ['yaml', 'servicenow'] as const;
export type KedbFormat = (typeof KEDB_FORMATS)[number];

export interface KedbParse {
  knownErrors: KnownError[];
  /** `<file>: <record>: <problem>` */
  errors: string[];
  /** Ids of rejected records: their stored version is kept, not retracted. */
  keepIds: string[];
  /** Records that are not known errors (a problem without known_error set): neither kind. */
  skipped: number;
}

export const emptyKedb = (): KedbParse => ({ knownErrors: [], errors: [], keepIds: [], skipped: 0 });
