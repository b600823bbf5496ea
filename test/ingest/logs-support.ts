import { MemoryBus } from '../../core/bus/memory.ts';
import { configSchema, type Config, type ConfigInput } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { DeadLetterWriter } from '../../ingest/dead-letters.ts';
import type { Source } from '../../ingest/source.ts';
import { startWriter, WriterCounters } from '../../ingest/writer/index.ts';
import { quiet, testDatabase, type TestDatabase } from '../writer/support.ts';

/**
 * The log sources' tests: a source on a real HTTP app and in-process bus, the real writer
 * into a database of the file's own on the shared ClickHouse.
 */
export interface LogPipeline {
  db: TestDatabase;
  url: string;
  config: Config;
  counters: WriterCounters;
  /** The sources' dead letters, flushed every 100 ms. */
  deadLetters: DeadLetterWriter;
  sources: Source[];
  /** Starts another source on the same bus and HTTP app's context (stopped by stop()). */
  startSource(source: Source): Promise<void>;
  stop(): Promise<void>;
}

export async function startLogPipeline(
  clickhouseUrl: string,
  prefix: string,
  make: (config: Config) => Source[],
  ingest: ConfigInput['ingest'] = {},
  extra: Omit<ConfigInput, 'ingest' | 'http'> = {},
): Promise<LogPipeline> {
  const db = await testDatabase(clickhouseUrl, prefix);
  const config = configSchema.parse({ ...extra, http: { addr: '127.0.0.1:0' }, ingest });
  const bus = new MemoryBus({ defaultPartitions: 2 });
  const http = createHttpApp({ config });
  const counters = new WriterCounters();
  const writer = await startWriter({
    bus,
    clickhouse: db.client,
    database: db.database,
    config: { maxRows: 50_000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 100, retryMaxDelayMs: 1000 },
    events: counters,
    log: quiet,
  });
  const sources = make(config);
  const deadLetters = new DeadLetterWriter({ client: db.client, flushMs: 100, log: quiet });
  const ctx = { config, bus, http, clickhouse: db.client, log: quiet, deadLetters };
  for (const s of sources) await s.start(ctx);
  const server = await http.listen();
  return {
    db,
    url: `http://${server.address}`,
    config,
    counters,
    deadLetters,
    sources,
    startSource: async (source) => {
      sources.push(source);
      await source.start(ctx);
    },
    stop: async () => {
      for (const s of sources) await s.stop();
      await deadLetters.close();
      await server.close();
      await writer.stop();
      await bus.close();
      await db.drop();
    },
  };
}
