import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';
import { startWriter, WriterCounters } from '../../ingest/writer/index.ts';
import {
  metricRecords,
  quiet,
  sleep,
  testDatabase,
  testTopics,
  waitFor,
  type TestDatabase,
} from './support.ts';

/**
 * ClickHouse stopped for 10 s in the middle of a stream: the writer retries with backoff, the
 * in-process bus stops the producer at its high-water mark (memory does not grow), and once the
 * server is back on the same port and data directory every row is there exactly once.
 */

const dir = mkdtempSync(join(tmpdir(), 'opsight-writer-down-'));
let ch: EmbeddedClickHouse | undefined;
let db: TestDatabase | undefined;

afterAll(async () => {
  await db?.drop();
  await ch?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function stored(db: TestDatabase, n: number): Promise<{ rows: number; distinct: number }> {
  const [r] = await db.rows<{ rows: number; distinct: number }>(
    `SELECT count() AS rows, uniqExact(v) AS distinct FROM (
       SELECT Value AS v FROM otel_metrics_gauge UNION ALL SELECT Value FROM otel_metrics_sum
       UNION ALL SELECT Sum FROM otel_metrics_histogram) WHERE v < ${n}`,
  );
  return r!;
}

describe('writer while ClickHouse is down', () => {
  it('loses nothing when ClickHouse stops for 10 s during a write, and holds the producer back meanwhile', async () => {
    ch = await startEmbedded({ dataDir: dir });
    const port = ch.port;
    db = await testDatabase(ch.url, 'writer_down');
    const highWater = 5000;
    const bus = new MemoryBus({ defaultPartitions: 2, highWater });
    const { topics, mappings } = testTopics();
    const counters = new WriterCounters();
    const writer = await startWriter({
      bus,
      clickhouse: db.client,
      database: db.database,
      config: { maxRows: 2000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 100, retryMaxDelayMs: 1000 },
      mappings,
      events: counters,
      log: quiet,
    });
    const total = 40_000;
    const chunk = 1000;
    let published = 0;
    const publishUpTo = async (to: number) => {
      for (; published < to; published += chunk) {
        await bus.publish(topics.metrics, metricRecords(published, published + chunk));
      }
    };

    try {
      await publishUpTo(10_000);
      await waitFor(() => counters.committedMessages >= 10_000, 'the first 10k rows to land');
      expect(await stored(db, total)).toEqual({ rows: 10_000, distinct: 10_000 });

      await ch.stop();
      const producing = publishUpTo(total);
      producing.catch(() => {}); // awaited below; a failed test closes the bus under it
      await sleep(10_000);
      // Still down: the writer is retrying, nothing more was committed, and the producer is
      // blocked by the bus instead of piling records up in memory.
      expect(counters.retries).toBeGreaterThan(0);
      expect(counters.committedMessages).toBe(10_000);
      expect(published).toBeLessThan(total);
      // The bus blocks publishers while any partition is highWater behind.
      expect(published - counters.committedMessages).toBeLessThanOrEqual(2 * (highWater + chunk));

      ch = await startEmbedded({ dataDir: dir, port });
      await producing;
      await waitFor(() => counters.committedMessages >= total, 'every row committed after the restart');
      expect(await stored(db, total)).toEqual({ rows: total, distinct: total });
    } finally {
      await writer.stop();
      await bus.close();
    }
  }, 180_000);
});
