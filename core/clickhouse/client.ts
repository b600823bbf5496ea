import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../config/schema.ts';

export type { ClickHouseClient };

export interface ClickHouseTarget {
  url: string;
  user: string;
  password: string;
  database: string;
  requestTimeoutMs?: number;
}

export function targetFromConfig(config: Config, url: string): ClickHouseTarget {
  return {
    url,
    user: config.clickhouse.user,
    password: config.clickhouse.password,
    database: config.clickhouse.database,
    requestTimeoutMs: config.clickhouse.requestTimeoutMs,
  };
}

/** A client bound to opsight's database. `withDatabase: false` for CREATE DATABASE itself. */
export function connect(target: ClickHouseTarget, withDatabase = true): ClickHouseClient {
  return createClient({
    url: target.url,
    username: target.user,
    password: target.password,
    database: withDatabase ? target.database : 'default',
    request_timeout: target.requestTimeoutMs ?? 60_000,
    application: 'opsight',
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
}
