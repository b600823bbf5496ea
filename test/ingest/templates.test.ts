import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient } from '@clickhouse/client';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import type { LogRecord } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { MemoryStateStore } from '../../core/state/store.ts';
import { startDetectRole } from '../../detect/role.ts';
import { startIngestRole } from '../../ingest/role.ts';
import { LogTemplater } from '../../ingest/logs/templates.ts';
import { waitFor } from '../writer/support.ts';

const line = (body: string, service = 'auth'): LogRecord => ({
  timeUnixNano: '1790000000000000000',
  severityNumber: 9,
  severityText: 'INFO',
  body,
  resource: { 'service.name': service },
  attributes: {},
  serviceName: service,
});

describe('LogTemplater', () => {
  it('stamps id, template and parameters, one miner per service', () => {
    const t = new LogTemplater({ similarity: 0.8 });
    const a = line('connection from 10.0.0.7 port 5544 closed after 31 ms');
    const b = line('connection from 10.0.0.9 port 6001 closed after 7 ms');
    const c = line('connection from 10.0.0.9 port 6001 closed after 7 ms', 'billing');
    t.stamp([a, b, c]);
    expect(a.templateId).toMatch(/^[0-9a-f]{16}$/);
    expect(b.templateId).toBe(a.templateId);
    expect(b.template).toBe('connection from <*> port <*> closed after <*> ms');
    expect(b.templateParams).toEqual(['10.0.0.9', '6001', '7']);
    // Another service's miner meets the same kind of line first: same id (hash of its text).
    expect(c.templateId).toBe(a.templateId);
    expect(t.services).toBe(2);
  });

  it('leaves a record without a body string alone', () => {
    const t = new LogTemplater({ similarity: 0.8 });
    const bad = { ...line('x'), body: 42 } as unknown as LogRecord;
    t.stamp([bad]);
    expect(bad.templateId).toBeUndefined();
  });

  it('keeps ids across a restart through its checkpoint', async () => {
    const state = new MemoryStateStore();
    const first = new LogTemplater({ similarity: 0.8, state });
    const alice = line('session opened for user alice by sshd');
    first.stamp([alice]);
    await first.checkpoint();

    const restored = new LogTemplater({ similarity: 0.8, state });
    await restored.load();
    const bob = line('session opened for user bob by sshd');
    restored.stamp([bob]);
    expect(bob.templateId).toBe(alice.templateId);
    expect(bob.templateParams).toEqual(['bob']);

    // Without the checkpoint the cluster would be born from bob's line, with another id.
    const fresh = new LogTemplater({ similarity: 0.8 });
    const bob2 = line('session opened for user bob by sshd');
    fresh.stamp([bob2]);
    expect(bob2.templateId).not.toBe(alice.templateId);
  });
});

describe('template ids through the pipeline', () => {
  const database = 'ingest_templates';
  const config = configSchema.parse({
    clickhouse: { url: inject('clickhouseUrl'), database },
    http: { addr: '127.0.0.1:0' },
    writer: { maxAgeMs: 100 },
    detect: {
      checkpointSeconds: 3600,
      health: { enabled: false },
      cost: { enabled: false },
      metrics: { enabled: false },
    },
  } satisfies ConfigInput);
  const ch = createClient({ url: inject('clickhouseUrl'), database: 'default' });
  let rt: Runtime | undefined;

  const start = () =>
    startRuntime(config, { ingest: startIngestRole, detect: startDetectRole }, ['ingest', 'detect']);
  const post = async (bodies: string[]) => {
    const res = await fetch(`http://${rt!.httpAddress}/api/v1/logs/jsonl`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: bodies
        .map((message, i) =>
          JSON.stringify({
            timestamp: `2026-11-23T08:00:${String(i % 60).padStart(2, '0')}Z`,
            level: 'info',
            service: 'auth',
            message,
          }),
        )
        .join('\n'),
    });
    expect(res.status).toBe(202);
  };
  const rows = async (sql: string) => {
    const rs = await ch.query({ query: sql, format: 'JSONEachRow' });
    return rs.json<Record<string, unknown>>();
  };

  beforeAll(async () => {
    setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    rt = await start();
  }, 60_000);
  afterAll(async () => {
    await rt?.stop();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await ch.close();
  });

  it('stores TemplateId and TemplateParams with the row, and the same ids in log_templates', async () => {
    await post([
      'session opened for user alice by sshd',
      'disk /dev/sda1 at 91% of 500 GB',
      'session opened for user carol by sshd',
      'disk /dev/sdb2 at 45% of 120 GB',
    ]);
    await waitFor(async () => (await rows(`SELECT 1 FROM ${database}.otel_logs`)).length === 4, '4 log rows');
    const logs = (await rows(
      `SELECT Body, TemplateId, TemplateParams FROM ${database}.otel_logs ORDER BY Timestamp`,
    )) as { Body: string; TemplateId: string; TemplateParams: string[] }[];
    expect(logs.map((l) => l.TemplateId.length)).toEqual([16, 16, 16, 16]);
    expect(logs[2]!.TemplateId).toBe(logs[0]!.TemplateId);
    expect(logs[3]!.TemplateId).toBe(logs[1]!.TemplateId);
    expect(logs[1]!.TemplateId).not.toBe(logs[0]!.TemplateId);
    expect(logs[2]!.TemplateParams).toEqual(['carol']);
    expect(logs[3]!.TemplateParams).toEqual(['/dev/sdb2', '45%', '120']);

    // The detector counts the stamped ids: log_templates holds exactly the ids of the rows.
    await rt!.stop(); // checkpoints both the detector's counts and ingest's miners
    rt = undefined;
    const templates = (await rows(
      `SELECT template_id, sum(count) AS n FROM ${database}.log_templates GROUP BY template_id ORDER BY template_id`,
    )) as { template_id: string; n: string }[];
    expect(templates.map((t) => t.template_id)).toEqual([...new Set(logs.map((l) => l.TemplateId))].sort());
    expect(templates.map((t) => Number(t.n))).toEqual([2, 2]);

    // After a restart a line of a known kind keeps its id (the miners were restored).
    rt = await start();
    await post(['session opened for user dave by sshd']);
    await waitFor(async () => (await rows(`SELECT 1 FROM ${database}.otel_logs`)).length === 5, '5 log rows');
    const [dave] = (await rows(`SELECT TemplateId FROM ${database}.otel_logs WHERE Body LIKE '%dave%'`)) as {
      TemplateId: string;
    }[];
    expect(dave!.TemplateId).toBe(logs[0]!.TemplateId);
  }, 60_000);
});
