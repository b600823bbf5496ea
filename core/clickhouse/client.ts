import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
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
    // Deduplication tokens (writer batches, migration records) only work on synchronous inserts,
    // and recent servers turn async_insert on by default.
    clickhouse_settings: { date_time_input_format: 'best_effort', async_insert: 0 },
    // The client would log a stack trace per failed request; callers log outages once, with context.
    log: { level: ClickHouseLogLevel.OFF },
  });
}
