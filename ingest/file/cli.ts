import { maskSecrets } from '../../core/config/load.ts';
import type { Config } from '../../core/config/schema.ts';
import { UsageError } from './detect.ts';
import { ingestFile, type IngestFileOptions } from './load.ts';

/**
 * The `opsight ingest file` command's output and exit code: 0 all loaded, 1 some records
 * rejected, 2 bad usage or an unreadable file (named on stderr).
 */
export async function runIngestFile(
  config: Config,
  o: Omit<IngestFileOptions, 'warn'>,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  try {
    const r = await ingestFile(config, { ...o, warn: (m) => err(`opsight: ${m}\n`) });
    const what = `${r.kind}, ${r.format}`;
    const where = `ClickHouse ${maskSecrets(r.clickhouseUrl, 'url') as string}${r.startedClickHouse ? ' (started for this load and stopped)' : ''}`;
    if (r.alreadyLoaded) {
      out(
        `${o.path} (${what}): already loaded (same content as ${r.alreadyLoaded.path} at ${r.alreadyLoaded.at} UTC, ` +
          `${r.alreadyLoaded.rows} rows); nothing loaded (--force loads it again)\n${where}\n`,
      );
      return 0;
    }
    out(`${o.path} (${what}): ${r.accepted} accepted, ${r.rejected} rejected\n${where}\n`);
    if (r.deadLetters)
      out(
        `${r.deadLetters} dead letter(s) in ${config.clickhouse.database}.dead_letters: ` +
          `SELECT offset, reason, payload FROM dead_letters WHERE key = '${r.path.replace(/'/g, "\\'")}'\n`,
      );
    return r.rejected ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`opsight: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
