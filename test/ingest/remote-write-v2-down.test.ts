import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { startEmbedded, type EmbeddedClickHouse } from '../../core/clickhouse/embedded.ts';
import { configSchema } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { RemoteWriteSource } from '../../ingest/metrics/remote-write.ts';
import { RequestV2Type } from '../../ingest/metrics/remote-write-v2-proto.ts';
import { startWriter, WriterCounters } from '../../ingest/writer/index.ts';
import { quiet, sleep, testDatabase, waitFor, type TestDatabase } from '../writer/support.ts';

/**
 * Remote-Write 2.0 while ClickHouse is down: the writer cannot store, the in-process bus fills
 * to its high-water mark, and the receiver answers 503 (retryable) instead of accepting what it
 * cannot keep. A sender retrying the refused requests after ClickHouse is back loses nothing:
 * every series lands exactly once.
 */

const dir = mkdtempSync(join(tmpdir(), 'opsight-rw2-down-'));
let ch: EmbeddedClickHouse | undefined;
let db: TestDatabase | undefined;

afterAll(async () => {
  await db?.drop();
  await ch?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const V2 = {
  'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '2.0.0',
};

/** Request k: 100 series of one sample each, named so that every series is unique. */
function request(k: number): Buffer {
  const symbols = ['', '__name__', 'rw2_down_test', 'job', 'app', 'series'];
  const timeseries = Array.from({ length: 100 }, (_, i) => {
    symbols.push(`s${k}_${i}`);
    return {
      labelsRefs: [1, 2, 3, 4, 5, symbols.length - 1],
      samples: [{ value: k * 100 + i, timestamp: Date.now() }],
    };
  });
  return compressSync(
    Buffer.from(RequestV2Type.encode(RequestV2Type.fromObject({ symbols, timeseries })).finish()),
  );
}

describe('remote_write 2.0 while ClickHouse is down', () => {
  it('answers 503 once the bus is full, and every series lands after the sender retries', async () => {
    ch = await startEmbedded({ dataDir: dir });
    const port = ch.port;
    db = await testDatabase(ch.url, 'rw2_down');
    const config = configSchema.parse({ http: { addr: '127.0.0.1:0' } });
    const bus = new MemoryBus({ defaultPartitions: 2, highWater: 300, publishTimeoutMs: 300 });
    const counters = new WriterCounters();
    const writer = await startWriter({
      bus,
      clickhouse: db.client,
      database: db.database,
      config: { maxRows: 200, maxBytes: 32 * 1024 * 1024, maxAgeMs: 100, retryMaxDelayMs: 500 },
      events: counters,
      log: quiet,
    });
    const http = createHttpApp({ config });
    const source = new RemoteWriteSource(config.ingest.remoteWrite);
    await source.start({ config, bus, http, clickhouse: db.client, log: quiet });
    const server = await http.listen();
    const url = `http://${server.address}/api/v1/write`;
    const send = (k: number) => fetch(url, { method: 'POST', headers: V2, body: request(k) });
    try {
      await ch.stop();
      const refused: number[] = [];
      let accepted = 0;
      for (let k = 0; k < 40; k++) {
        const res = await send(k);
        if (res.status === 503) {
          refused.push(k);
          expect(res.headers.get('retry-after')).toBeTruthy();
          expect(res.headers.get('x-prometheus-remote-write-samples-written')).toBe('0');
        } else {
          expect(res.status).toBe(204);
          expect(res.headers.get('x-prometheus-remote-write-samples-written')).toBe('100');
          accepted++;
        }
      }
      // The bus holds at most its high-water mark per partition (and the batches in flight).
      expect(refused.length).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(40);
      expect(counters.retries).toBeGreaterThan(0);

      ch = await startEmbedded({ dataDir: dir, port });
      // The sender retries what was refused until it is taken.
      for (const k of refused) {
        for (let attempt = 0; ; attempt++) {
          const res = await send(k);
          if (res.status === 204) break;
          expect(res.status).toBe(503);
          if (attempt > 200) throw new Error(`request ${k} still refused`);
          await sleep(100);
        }
      }
      await waitFor(
        async () =>
          Number(
            await db!.scalar(`SELECT count() FROM otel_metrics_gauge WHERE MetricName = 'rw2_down_test'`),
          ) >= 4000,
        'all 4,000 series stored',
        120_000,
      );
      const [r] = await db.rows<{ rows: number; distinct: number }>(
        `SELECT count() AS rows, uniqExact(Value) AS distinct FROM otel_metrics_gauge WHERE MetricName = 'rw2_down_test'`,
      );
      expect(r).toEqual({ rows: 4000, distinct: 4000 });
    } finally {
      await source.stop();
      await server.close();
      await writer.stop();
      await bus.close();
    }
  }, 240_000);
});
