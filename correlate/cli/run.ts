import { connect, targetFromConfig, type ClickHouseClient } from '../../core/clickhouse/client.ts';
import { startEmbedded } from '../../core/clickhouse/embedded.ts';
import { migrate } from '../../core/clickhouse/migrate.ts';
import { maskSecrets } from '../../core/config/load.ts';
import type { Config } from '../../core/config/schema.ts';
import { changesImport, cmdbImport, ImportUsageError, kedbImport, type ImportSummary } from './import.ts';

/**
 * The import commands around cmdbImport / changesImport / kedbImport: the configured
 * ClickHouse, else the embedded one of the data directory (reused when `opsight start` runs
 * it, else started for the import and stopped), schema applied, then the summary printed.
 * Exit code 0 all imported, 1 some records rejected, 2 bad usage or an unreadable file.
 */
export type ImportKind = 'cmdb' | 'changes' | 'kedb';

export async function runImport(
  config: Config,
  kind: ImportKind,
  file: string,
  o: { format?: string; source?: string } = {},
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let url = config.clickhouse.url;
  const embedded = url
    ? undefined
    : await startEmbedded({ dataDir: config.dataDir, port: config.clickhouse.embedded.port });
  url ??= embedded!.url;
  let client: ClickHouseClient | undefined;
  try {
    const target = targetFromConfig(config, url);
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
    let r: ImportSummary;
    if (kind === 'cmdb') r = await cmdbImport(client, file, o);
    else if (kind === 'kedb') r = await kedbImport(client, file, o);
    else r = await changesImport(client, file, o);
    for (const e of r.errors.slice(0, 50)) err(`opsight: ${e}\n`);
    if (r.errors.length > 50) err(`opsight: ... and ${r.errors.length - 50} more\n`);
    out(`${file}: ${r.accepted} accepted, ${r.rejected} rejected (${r.detail})\n`);
    out(
      `ClickHouse ${maskSecrets(url, 'url') as string}${embedded?.owned ? ' (started for this import and stopped)' : ''}\n`,
    );
    return r.rejected ? 1 : 0;
  } catch (e) {
    if (e instanceof ImportUsageError) {
      err(`opsight: ${e.message}\n`);
      return 2;
    }
    throw e;
  } finally {
    await client?.close();
    await embedded?.stop();
  }
}
