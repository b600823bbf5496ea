import { connect, targetFromConfig, type ClickHouseClient } from './client.ts';
import { startEmbedded } from './embedded.ts';
import { migrate } from './migrate.ts';
import type { Config } from '../config/schema.ts';

/**
 * For CLI commands that read or write ClickHouse: the configured ClickHouse, else the embedded one of the data
 * directory (reused while `opsight start` runs it, else started for the command and stopped),
 * with the schema applied.
 */
export async function withClickHouse<T>(
  config: Config,
  fn: (client: ClickHouseClient, info: { url: string; startedHere: boolean }) => Promise<T>,
): Promise<T> {
  let url = config.clickhouse.url;
  const embedded = url
    ? undefined
    : await startEmbedded({ dataDir: config.dataDir, port: config.clickhouse.embedded.port });
  url ??= embedded!.url;
  const target = targetFromConfig(config, url);
  let client: ClickHouseClient | undefined;
  try {
    const admin = connect(target, false);
    try {
      await migrate(admin, {
        database: config.clickhouse.database,
        cluster: config.clickhouse.cluster,
        ttlDays: config.clickhouse.ttlDays,
      });
    } finally {
      await admin.close();
    }
    client = connect(target);
    return await fn(client, { url, startedHere: !!embedded?.owned });
  } finally {
    await client?.close();
    await embedded?.stop();
  }
}
