import type { Ci, CiRelation } from '../engine/model.ts';

export const CMDB_FORMATS = ['servicenow', 'csv', 'backstage'] as const;
export type CmdbFormat = (typeof CMDB_FORMATS)[number];

/** What an importer made of one file: the good records, and one message per rejected record. */
export interface CmdbParse {
  cis: Ci[];
  relations: CiRelation[];
  /** `<file>: <record or line>: <problem>` */
  errors: string[];
  /**
   * Ids of rejected CI records that still carried an id: their stored version is kept rather
   * than retracted as absent from the export.
   */
  keepIds: string[];
}

export const emptyParse = (): CmdbParse => ({ cis: [], relations: [], errors: [], keepIds: [] });
