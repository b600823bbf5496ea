import type { Bus } from './bus/types.ts';
import type { ClickHouseClient, ClickHouseTarget } from './clickhouse/client.ts';
import type { Config } from './config/schema.ts';
import type { HttpApp } from './http/app.ts';

/**
 * What a role (ingest, detect, correlate) gets from the runtime. Roles share only this and
 * talk to each other through bus topics and ClickHouse tables, so each can run alone.
 */
export interface RoleContext {
  config: Config;
  bus: Bus;
  clickhouse: ClickHouseClient;
  target: ClickHouseTarget;
  http: HttpApp;
  /** Report a consumer group's lag on /metrics. */
  watchLag(group: string, topic: string): void;
}

export interface RunningRole {
  name: string;
  /** Stop taking work, finish what is in flight (commit it), release resources. */
  stop(): Promise<void>;
}

export type RoleName = 'ingest' | 'detect' | 'correlate';
export const ROLE_NAMES: readonly RoleName[] = ['ingest', 'detect', 'correlate'];

export type RoleStarter = (ctx: RoleContext) => Promise<RunningRole>;
