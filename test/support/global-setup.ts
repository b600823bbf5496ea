import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';
import { startKafka, type KafkaBroker } from './kafka.ts';

/** One embedded ClickHouse and one Kafka broker for the whole run; tests that stop servers start their own. */
declare module 'vitest' {
  export interface ProvidedContext {
    clickhouseUrl: string;
    /** Comma-separated host:port list, as in KAFKA_BROKERS. */
    kafkaBrokers: string;
  }
}

let ch: EmbeddedClickHouse | undefined;
let kafka: KafkaBroker | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'opsight-test-'));
  // Both servers start in parallel (the JVM takes a few seconds); if one fails, stop the other.
  const [chServer, broker] = await Promise.allSettled([startEmbedded({ dataDir: dir }), startKafka()]);
  if (chServer.status === 'fulfilled') ch = chServer.value;
  if (broker.status === 'fulfilled') kafka = broker.value;
  if (!ch || !kafka) {
    await teardown();
    const failed = [chServer, broker].find((r) => r.status === 'rejected');
    throw failed?.reason;
  }
  project.provide('clickhouseUrl', ch.url);
  project.provide('kafkaBrokers', kafka.brokers.join(','));
}

export async function teardown(): Promise<void> {
  await Promise.allSettled([ch?.stop(), kafka?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}
