import type { Config } from '../core/config/schema.ts';
import { billingSources } from './billing/source.ts';
import { fileSources } from './logs/files.ts';
import { jsonlSources } from './logs/jsonl.ts';
import { syslogSources } from './logs/syslog.ts';
import { remoteWriteSources } from './metrics/remote-write.ts';
import { scrapeSources } from './metrics/scrape.ts';
import { otlpSources } from './otlp/receiver.ts';
import type { Source, SourceContext } from './source.ts';

/**
 * Every source kind opsight has, built from the config. A new format registers one factory
 * here; ingest/role.ts starts whatever this returns and serves their state on /api/v1/sources.
 */
type SourceFactory = (config: Config) => Source[];

const factories: SourceFactory[] = [
  remoteWriteSources,
  scrapeSources,
  jsonlSources,
  syslogSources,
  fileSources,
  otlpSources,
  billingSources,
];

export function buildSources(config: Config): Source[] {
  return factories.flatMap((make) => make(config));
}

export async function startSources(sources: Source[], ctx: SourceContext): Promise<void> {
  for (const s of sources) await s.start({ ...ctx, log: ctx.log.child({ source: s.name }) });
}
