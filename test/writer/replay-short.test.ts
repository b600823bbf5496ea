import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { RangeLog } from '../../ingest/writer/ranges.ts';
import { startWriter, WriterCounters } from '../../ingest/writer/index.ts';
import { metricRecords, quiet, testDatabase, testTopics, waitFor, type TestDatabase } from './support.ts';

/**
 * A replay whose deliveries are shorter than the batch ranges recorded before the crash (here:
 * ranges of 6000 messages recorded by a writer that died before inserting them, replayed by a
 * writer whose deliveries hold 2000). The writer re-cuts each recorded range at the end of a
 * delivery, records the shorter range and goes on: every message lands exactly once, and the
 * recorded ranges follow what was inserted.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'writer_short');
});

afterAll(async () => {
  await db?.drop();
});

describe('writer replaying fewer messages than a recorded batch', () => {
  it('re-cuts the recorded range where the delivery ends and lands every message once', async () => {
    const { topics, mappings } = testTopics();
    const group = 'short-replay';
    const scope = 'short';
    const n = 18_000;
    // The crashed writer's records: [0, 5999], [6000, 11999], [12000, 17999], nothing inserted.
    const ranges = await RangeLog.open(db.client, db.database);
    for (let first = 0; first < n; first += 6000) {
      await ranges.record(
        `${group}@${scope}`,
        topics.metrics,
        0,
        { first: String(first), last: String(first + 5999) },
        ['otel_metrics_gauge', 'otel_metrics_sum', 'otel_metrics_histogram'],
      );
    }

    const bus = new MemoryBus({ defaultPartitions: 1 });
    const counters = new WriterCounters();
    // maxRows 1000: the writer asks the bus for at most 2000 messages a delivery.
    const writer = await startWriter({
      bus,
      clickhouse: db.client,
      database: db.database,
      config: { maxRows: 1000, maxBytes: 32 << 20, maxAgeMs: 100, retryMaxDelayMs: 1000 },
      mappings,
      events: counters,
      log: quiet,
      group,
      tokenScope: scope,
    });
    try {
      for (let i = 0; i < n; i += 3000) await bus.publish(topics.metrics, metricRecords(i, i + 3000));
      await waitFor(() => counters.committedMessages >= n, 'all messages committed');
    } finally {
      await writer.stop();
      await bus.close();
    }

    const count = await db.scalar(
      `SELECT count() FROM (SELECT Value AS v FROM otel_metrics_gauge UNION ALL
         SELECT Value FROM otel_metrics_sum UNION ALL SELECT Sum FROM otel_metrics_histogram)`,
    );
    expect(count).toBe(n);
    const distinct = await db.scalar(
      `SELECT uniqExact(v) FROM (SELECT Value AS v FROM otel_metrics_gauge UNION ALL
         SELECT Value FROM otel_metrics_sum UNION ALL SELECT Sum FROM otel_metrics_histogram)`,
    );
    expect(distinct).toBe(n);
    // Each recorded range was re-cut at delivery ends (2000 messages): the newest recording of
    // every first offset now ends where a delivery ended, and they tile 0..n-1 without gaps.
    const loaded = await ranges.load(`${group}@${scope}`, topics.metrics, 0, '0');
    expect(loaded[0]!.first).toBe('0');
    expect(loaded[loaded.length - 1]!.last).toBe(String(n - 1));
    for (let i = 1; i < loaded.length; i++)
      expect(BigInt(loaded[i]!.first)).toBe(BigInt(loaded[i - 1]!.last) + 1n);
    expect(loaded.every((r) => BigInt(r.last) - BigInt(r.first) < 2000n)).toBe(true);
  });
});
