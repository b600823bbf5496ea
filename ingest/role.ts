import { INGEST_TOPICS } from '../core/bus/topics.ts';
import { logger } from '../core/log.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';
import { ClickHouseStateStore } from '../core/state/store.ts';
import { DeadLetterWriter } from './dead-letters.ts';
import { openTemplater } from './logs/templates.ts';
import { mountRecordsApi } from './http/records.ts';
import { buildSources, startSources } from './sources.ts';
import { DEFAULT_GROUP, prometheusWriterEvents, startWriter } from './writer/index.ts';

/**
 * The ingest role: sources publish canonical records to the bus, and the writer moves the
 * metrics, logs and billing topics into ClickHouse.
 */
export async function startIngestRole(ctx: RoleContext): Promise<RunningRole> {
  const log = logger('ingest');
  // Sources publish through the stamping bus: log lines reach opsight.logs with their template.
  const templates = await openTemplater(ctx.config.ingest.templates, ctx.bus, {
    state: new ClickHouseStateStore(ctx.clickhouse),
    log: logger('templates'),
  });
  const bus = templates.bus;
  mountRecordsApi(ctx.http, bus);
  const sources = buildSources(ctx.config);
  ctx.http.route('get', '/api/v1/sources', 'read', (_req, res) => {
    res.json({ sources: sources.map((s) => s.state()) });
  });
  const deadLetters = new DeadLetterWriter({ client: ctx.clickhouse, log: logger('dead-letters') });
  await startSources(sources, {
    config: ctx.config,
    bus,
    http: ctx.http,
    clickhouse: ctx.clickhouse,
    log,
    deadLetters,
  });
  const writer = await startWriter({
    bus: ctx.bus,
    clickhouse: ctx.clickhouse,
    database: ctx.config.clickhouse.database,
    config: ctx.config.writer,
    events: prometheusWriterEvents(),
    log: logger('writer'),
  });
  for (const topic of INGEST_TOPICS) ctx.watchLag(DEFAULT_GROUP, topic);
  return {
    name: 'ingest',
    stop: async () => {
      // Sources first: what they received is published before the writer drains the bus.
      for (const s of sources)
        await s.stop().catch((err: unknown) => log.error({ err, source: s.name }, 'stop failed'));
      await deadLetters.close();
      await templates.close();
      await writer.stop();
    },
  };
}
