import type { Config } from '../core/config/schema.ts';
import type { Source, SourceContext } from './source.ts';

/**
 * Every source kind opsight has, built from the config. A new format registers one factory
 * here; ingest/role.ts starts whatever this returns and serves their state on /api/v1/sources.
 */
type SourceFactory = (config: Config) => Source[];

const factories: SourceFactory[] = [];

export function buildSources(config: Config): Source[] {
  return factories.flatMap((make) => make(config));
}

export async function startSources(sources: Source[], ctx: SourceContext): Promise<void> {
  for (const s of sources) await s.start({ ...ctx, log: ctx.log.child({ source: s.name }) });
}
