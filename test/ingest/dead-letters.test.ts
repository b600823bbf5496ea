import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../core/clickhouse/migrate.ts';
import { registry } from '../../core/metrics.ts';
import { freePort } from '../../core/net.ts';
import { DeadLetterWriter, deadLetterRow } from '../../ingest/dead-letters.ts';
import { quiet, uid, waitFor } from '../writer/support.ts';

/** The sources' dead-letter writer against a real ClickHouse: batching, retry, bounded buffer. */

const url = inject('clickhouseUrl');
const TTL = { metrics: 0, logs: 0, traces: 0, billing: 0, alerts: 0, deadLetters: 0 };
const cleanup: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

async function dropped(source: string): Promise<number> {
  const metric = await registry.getSingleMetricAsString('opsight_source_dead_letters_total');
  const line = metric
    .split('\n')
    .find((l) => l.includes(`source="${source}"`) && l.includes('outcome="dropped"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('DeadLetterWriter', () => {
  it('builds rows with file:line in the reason, the line as offset and text or JSON payloads', () => {
    const row = deadLetterRow(
      {
        source: 'files:app',
        topic: 'opsight.logs',
        file: '/var/log/a.log',
        line: 7,
        reason: 'bad',
        payload: '{x',
      },
      Date.UTC(2026, 10, 23, 4, 40, 0, 123),
    );
    expect(row).toEqual({
      received_at: '2026-11-23 04:40:00.123',
      topic: 'opsight.logs',
      partition: 0,
      offset: 7,
      key: '/var/log/a.log',
      source: 'files:app',
      reason: '/var/log/a.log:7: bad',
      payload: '{x',
    });
    const plain = deadLetterRow({ source: 's', reason: 'r', payload: { n: 1n, s: 'x'.repeat(70_000) } });
    expect(plain).toMatchObject({ topic: '', offset: 0, key: '', reason: 'r' });
    expect(plain.payload.startsWith('{"n":"1","s":"xxx')).toBe(true);
    expect(plain.payload).toMatch(/\.\.\.\(truncated, \d+ chars\)$/);
  });

  it('keeps rows while the table is missing and inserts them once it exists', async () => {
    const database = uid('deadletters');
    const admin = createClient({ url });
    cleanup.push(async () => {
      await admin.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      await admin.close();
    });
    const client = createClient({ url, database: 'default' });
    cleanup.push(() => client.close());
    // The table does not exist yet: every insert fails until migrate() below.
    const writer = new DeadLetterWriter({
      client: createClient({ url, database }),
      flushMs: 50,
      maxRetryDelayMs: 200,
      log: quiet,
    });
    cleanup.push(() => writer.close());
    for (let line = 1; line <= 3; line++)
      writer.add({
        source: 'test-retry',
        topic: 'opsight.logs',
        file: 'in.log',
        line,
        reason: `bad ${line}`,
        payload: `l${line}`,
      });
    await writer.flush();
    expect(writer.pending).toBe(3);
    expect(writer.written).toBe(0);

    await migrate(admin, { database, ttlDays: TTL });
    await waitFor(() => writer.written === 3, 'the retried insert');
    expect(writer.pending).toBe(0);
    const rs = await client.query({
      query: `SELECT offset, key, source, reason, payload FROM {db:Identifier}.dead_letters ORDER BY offset`,
      query_params: { db: database },
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    expect(await rs.json()).toEqual(
      [1, 2, 3].map((n) => ({
        offset: n,
        key: 'in.log',
        source: 'test-retry',
        reason: `in.log:${n}: bad ${n}`,
        payload: `l${n}`,
      })),
    );
  });

  it('never throws nor grows past its bound while ClickHouse is down; drops are counted', async () => {
    const client = createClient({ url: `http://127.0.0.1:${await freePort()}`, request_timeout: 2000 });
    cleanup.push(() => client.close());
    const writer = new DeadLetterWriter({ client, maxRows: 2, maxBuffered: 5, flushMs: 10, log: quiet });
    for (let i = 0; i < 8; i++) writer.add({ source: 'test-down', reason: 'r', payload: i });
    expect(writer.pending).toBe(5);
    expect(writer.dropped).toBe(3);
    expect(await dropped('test-down')).toBe(3);
    await writer.flush(); // fails: ECONNREFUSED, the rows stay
    expect(writer.pending).toBe(5);
    await writer.close();
    expect(writer.pending).toBe(0);
    expect(writer.dropped).toBe(8);
    expect(await dropped('test-down')).toBe(8);
    writer.add({ source: 'test-down', reason: 'after close', payload: '' });
    expect(writer.dropped).toBe(9);
  });
});
