import { TOPICS } from '../core/bus/topics.ts';
import { logger } from '../core/log.ts';
import type { RoleContext, RunningRole } from '../core/role.ts';
import { mountRecordsApi } from './http/records.ts';
import { DEFAULT_GROUP, prometheusWriterEvents, startWriter } from './writer/index.ts';

/**
 * The ingest role: the receiving endpoints publish canonical records to the bus, and the writer
 * moves the metrics, logs and billing topics into ClickHouse. Sources register here as they land.
 */
export async function startIngestRole(ctx: RoleContext): Promise<RunningRole> {
  mountRecordsApi(ctx.http, ctx.bus);
  const writer = await startWriter({
    bus: ctx.bus,
    clickhouse: ctx.clickhouse,
    database: ctx.config.clickhouse.database,
    config: ctx.config.writer,
    events: prometheusWriterEvents(),
    log: logger('writer'),
  });
  for (const topic of [TOPICS.metrics, TOPICS.logs, TOPICS.billing]) ctx.watchLag(DEFAULT_GROUP, topic);
  return { name: 'ingest', stop: () => writer.stop() };
}
