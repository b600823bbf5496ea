/**
 * What the correlator reasons about: configuration items and their relations (from cmdb_ci /
 * cmdb_rel), known errors, changes. Kept in memory by the correlator; loaded from ClickHouse.
 */

export type Criticality = 'critical' | 'high' | 'medium' | 'low';

export interface Ci {
  id: string;
  name: string;
  class: string;
  service?: string;
  ownerGroup?: string;
  environment?: string;
  criticality?: Criticality;
  attributes: Record<string, string>;
  discovered?: boolean;
}

/**
 * A relation as ServiceNow's cmdb_rel_ci reads it: `parent` depends on / runs on / is hosted
 * on `child`. A fault propagates from child to parent: the child is upstream.
 */
export interface CiRelation {
  parent: string;
  child: string;
  type: string;
}

export interface KnownError {
  id: string;
  title: string;
  /**
   * Patterns on alert fields: `field=regex` (alertname, service, kind, label.<name>,
   * annotation.<name>, template), `template:<id>` for a log template id, or plain text matched
   * by similarity against alert summaries.
   */
  symptoms: string[];
  /** CI classes or service names the known error applies to; empty = anywhere. */
  scope: string[];
  workaround: string;
  problemRef: string;
  status: string;
}

export interface Change {
  id: string;
  ci: string;
  /** Unix ms */
  time: number;
  kind: string;
  description: string;
  link: string;
}
