import { maskSecrets } from '../../core/config/load.ts';
import type { Config } from '../../core/config/schema.ts';
import { withClickHouse } from '../../core/clickhouse/session.ts';
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
  try {
    return await withClickHouse(config, async (client, { url, startedHere }) => {
      let r: ImportSummary;
      if (kind === 'cmdb') r = await cmdbImport(client, file, o);
      else if (kind === 'kedb') r = await kedbImport(client, file, o);
      else r = await changesImport(client, file, o);
      for (const e of r.errors.slice(0, 50)) err(`opsight: ${e}\n`);
      if (r.errors.length > 50) err(`opsight: ... and ${r.errors.length - 50} more\n`);
      out(`${file}: ${r.accepted} accepted, ${r.rejected} rejected (${r.detail})\n`);
      out(
        `ClickHouse ${maskSecrets(url, 'url') as string}${startedHere ? ' (started for this import and stopped)' : ''}\n`,
      );
      return r.rejected ? 1 : 0;
    });
  } catch (e) {
    if (e instanceof ImportUsageError) {
      err(`opsight: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
