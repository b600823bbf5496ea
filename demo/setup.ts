import { renameSync, writeFileSync } from 'node:fs';
import type { ClickHouseClient } from '../core/clickhouse/client.ts';
import { configSchema, type Config } from '../core/config/schema.ts';

/** Preparing a demo run: its configuration, its database, files its sources pick up. */

/** The user's configuration with what the demo needs: its own ports, sources and quick passes. */
export function demoConfig(config: Config, billingDir: string): Config {
  return configSchema.parse({
    ...config,
    // An ephemeral port on loopback, so a running `opsight start` is no obstacle; the demo is
    // its own only client there, so it needs none of the configured API tokens. In-process bus.
    http: { ...config.http, addr: '127.0.0.1:0', tokens: [] },
    kafka: { ...config.kafka, brokers: [] },
    ingest: {
      ...config.ingest,
      scrape: { ...config.ingest.scrape, jobs: [] },
      syslog: { ...config.ingest.syslog, enabled: false },
      files: [],
      billing: [{ name: 'demo-aws-focus', kind: 'directory', path: billingDir, intervalSeconds: 2 }],
    },
    detect: {
      ...config.detect,
      // Rounds every 10 s instead of 30 s, and cost passes every 5 s instead of 5 min, so the
      // incidents form within the demo's minutes; thresholds and windows stay the defaults.
      health: { ...config.detect.health, intervalSeconds: 10 },
      // The synthetic bill has no monthly charges: month starts need no separate baseline.
      cost: { ...config.detect.cost, intervalSeconds: 5, monthStartDays: 0 },
    },
    // Never page anyone from a demo.
    notify: { ...config.notify, targets: [], routes: [] },
  });
}

/** Rows in the database, and whether they are a previous demo's. */
export async function inspect(admin: ClickHouseClient, db: string): Promise<{ rows: number; demo: boolean }> {
  const q = async <T>(query: string): Promise<T[]> =>
    (await admin.query({ query, query_params: { db }, format: 'JSONEachRow' })).json<T>();
  const [parts] = await q<{ rows: string }>(
    'SELECT toString(sum(rows)) AS rows FROM system.parts WHERE database = {db:String} AND active',
  );
  const rows = Number(parts?.rows ?? 0);
  if (!rows) return { rows, demo: false };
  const tables = await q<{ name: string }>(
    "SELECT name FROM system.tables WHERE database = {db:String} AND name = 'cmdb_ci'",
  );
  if (!tables.length) return { rows, demo: false };
  const [marker] = await q<{ n: string }>(
    `SELECT toString(count()) AS n FROM \`${db}\`.cmdb_ci WHERE source = 'demo'`,
  );
  return { rows, demo: Number(marker?.n ?? 0) > 0 };
}

export function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}
