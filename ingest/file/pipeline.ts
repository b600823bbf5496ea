import { setTimeout as sleep } from 'node:timers/promises';
import { createBus, topicSpecs } from '../../core/bus/index.ts';
import type { Bus } from '../../core/bus/types.ts';
import { connect, targetFromConfig, type ClickHouseClient } from '../../core/clickhouse/client.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';
import { migrate } from '../../core/clickhouse/migrate.ts';
import type { Config } from '../../core/config/schema.ts';
import { logger } from '../../core/log.ts';
import { ClickHouseStateStore } from '../../core/state/store.ts';
import { openTemplater } from '../logs/templates.ts';
import { DEFAULT_GROUP, startWriter, type Writer } from '../writer/index.ts';

/**
 * What `opsight ingest file` runs on: the configured ClickHouse, else the embedded one of the
 * data directory (reused when `opsight start` runs it, else started here and stopped at the
 * end), the schema, the configured bus, and a writer of its own.
 *
 * The writer: with the in-process bus nothing else can read what this process publishes, so
 * it always runs one. With Kafka it runs one too, in the same consumer group as the ingest
 * role: beside a running ingest role Kafka splits the partitions between them and the writer's
 * deduplication tokens keep every batch exactly once; alone it drains the topic itself.
 * Either way drain() returns when the group has no lag on the topics used, i.e. when what
 * was published is in ClickHouse.
 */

export interface FilePipeline {
  clickhouse: ClickHouseClient;
  clickhouseUrl: string;
  /** False when it reused a running embedded server (or a configured one). */
  startedClickHouse: boolean;
  bus: Bus;
  drain(topics: string[]): Promise<void>;
  close(): Promise<void>;
}

export async function openPipeline(config: Config): Promise<FilePipeline> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    let url = config.clickhouse.url;
    let embedded: EmbeddedClickHouse | undefined;
    if (!url) {
      embedded = await startEmbedded({ dataDir: config.dataDir, port: config.clickhouse.embedded.port });
      cleanups.push(() => embedded!.stop());
      url = embedded.url;
    }
    const target = targetFromConfig(config, url);
    await migrate(connect(target, false), {
      database: config.clickhouse.database,
      cluster: config.clickhouse.cluster,
      ttlDays: config.clickhouse.ttlDays,
    });
    const clickhouse = connect(target);
    cleanups.push(() => clickhouse.close());
    const bus = createBus(config);
    cleanups.push(() => bus.close());
    await bus.ensureTopics(topicSpecs(config));
    const writer: Writer = await startWriter({
      bus,
      clickhouse,
      database: config.clickhouse.database,
      config: config.writer,
      log: logger('writer'),
    });
    cleanups.push(() => writer.stop());
    // Lines loaded from a file are stamped like the running sources' (same saved miners).
    const templates = await openTemplater(config.ingest.templates, bus, {
      state: new ClickHouseStateStore(clickhouse),
      log: logger('templates'),
    });
    cleanups.push(() => templates.close());
    return {
      clickhouse,
      clickhouseUrl: url,
      startedClickHouse: embedded?.owned ?? false,
      bus: templates.bus,
      drain: async (topics) => {
        for (;;) {
          const lags = await Promise.all(topics.map((t) => bus.lag(DEFAULT_GROUP, t)));
          if (lags.flat().every((l) => l.lag <= 0)) return;
          await sleep(100);
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
