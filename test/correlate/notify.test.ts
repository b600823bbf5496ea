import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { logger, setLogLevel } from '../../core/log.ts';
import type { BusMessage } from '../../core/bus/types.ts';
import type { Incident } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import type { IncidentEvent } from '../../correlate/engine/correlator.ts';
import { Dispatcher } from '../../correlate/notify/dispatcher.ts';
import { sign } from '../../correlate/notify/webhook.ts';
import { startCorrelateRole } from '../../correlate/role.ts';

/** Notifications received by a local HTTP server: payloads, HMAC, retry on 500, rate limit, dead letters. */

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}
let server: Server;
let base: string;
const received: Received[] = [];
/** path -> statuses to answer before 200 */
const script = new Map<string, number[]>();

const SECRET = 'a-webhook-secret-of-some-length';
const DB = 'correlate_notify_test';
let rt: Runtime;

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url!, headers: req.headers, body });
      const status = script.get(req.url!)?.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  rt = await startRuntime(config(), { correlate: startCorrelateRole }, ['correlate']);
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  server?.close();
});

function config(extra: Partial<ConfigInput> = {}) {
  return configSchema.parse({
    clickhouse: { url: inject('clickhouseUrl'), database: DB },
    http: { addr: '127.0.0.1:0' },
    notify: {
      targets: [
        { name: 'hook', type: 'webhook', url: `${base}/hook`, secret: SECRET },
        { name: 'pd', type: 'pagerduty', routingKey: 'R0UT1NGKEY', url: `${base}/pd` },
        { name: 'finance', type: 'slack', webhookUrl: `${base}/slack` },
      ],
      routes: [
        { match: { kind: 'cost' }, targets: ['finance'] },
        { match: { priorities: ['P1', 'P2'] }, targets: ['pd'], continue: true },
        { targets: ['hook'] },
      ],
      rateLimit: { perMinute: 1, burst: 2 },
      retry: { attempts: 3, initialDelayMs: 50, timeoutMs: 2000 },
    },
    ...extra,
  } satisfies ConfigInput);
}

function incident(id: string, over: Partial<Incident> = {}): Incident {
  return {
    id,
    status: 'open',
    severity: 'critical',
    priority: 'P1',
    title: 'db-1: postgres down (+1 alert on 2 CIs)',
    alertFingerprints: ['a', 'b'],
    alertCount: 2,
    affectedCis: ['db-1', 'api'],
    rootCauses: [{ ci: 'db-1', score: 0.9, reason: '1 of 1 other affected CIs depend on it' }],
    blastRadius: ['api'],
    knownErrors: [{ id: 'KE1', score: 0.8, workaround: 'fail over' }],
    changes: [],
    timeline: [],
    firstSeen: new Date().toISOString(),
    lastSeen: new Date().toISOString(),
    notified: [],
    version: 1,
    ...over,
  };
}

let offset = 0;
const msg = (type: IncidentEvent['type'], inc: Incident): BusMessage<IncidentEvent> => ({
  topic: 'opsight.incidents',
  partition: 0,
  offset: String(offset++),
  key: inc.id,
  value: { type, incident: inc },
  timestamp: Date.now(),
});

const dispatcher = () =>
  new Dispatcher(config().notify, {
    bus: rt.bus,
    clickhouse: rt.clickhouse,
    log: logger('test'),
    ownerGroup: () => undefined,
  });

async function deadLetters(key: string) {
  const rs = await rt.clickhouse.query({
    query: 'SELECT source, reason FROM dead_letters WHERE key = {key:String} ORDER BY received_at',
    query_params: { key },
    format: 'JSONEachRow',
  });
  return rs.json<{ source: string; reason: string }>();
}

describe('notifications', () => {
  it('routes a P1 to PagerDuty and the webhook, signed, with PagerDuty v2 semantics on resolve', async () => {
    received.length = 0;
    const d = dispatcher();
    await d.handle(msg('opened', incident('INC-1')));
    await d.handle(msg('resolved', incident('INC-1', { status: 'resolved', version: 2 })));
    const pd = received
      .filter((r) => r.path === '/pd')
      .map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(pd.map((p) => [p.event_action, p.dedup_key])).toEqual([
      ['trigger', 'INC-1'],
      ['resolve', 'INC-1'],
    ]);
    expect(pd[0]).toMatchObject({
      routing_key: 'R0UT1NGKEY',
      payload: { severity: 'critical', source: 'db-1' },
    });
    expect((pd[0]!.payload as { summary: string }).summary).toMatch(/^\[P1\] db-1: postgres down/);
    const hooks = received.filter((r) => r.path === '/hook');
    expect(hooks).toHaveLength(2);
    for (const h of hooks) {
      const ts = h.headers['x-opsight-timestamp'] as string;
      expect(h.headers['x-opsight-signature']).toBe(`sha256=${sign(SECRET, ts, h.body)}`);
    }
    expect(JSON.parse(hooks[0]!.body)).toMatchObject({
      event_id: 'INC-1:1',
      type: 'opened',
      incident: { id: 'INC-1' },
    });
    expect(received.some((r) => r.path === '/slack')).toBe(false);
  });

  it('sends cost incidents to the finance route only', async () => {
    received.length = 0;
    await dispatcher().handle(
      msg('opened', incident('INC-C', { costKey: '111|AmazonEC2|2026-11-20', priority: 'P3' })),
    );
    expect(received.map((r) => r.path)).toEqual(['/slack']);
    expect((JSON.parse(received[0]!.body) as { text: string }).text).toMatch(/INC-C\* opened/);
  });

  it('retries a 500 until it is delivered, and dead-letters a target that keeps failing', async () => {
    received.length = 0;
    script.set('/hook', [500, 503]);
    await dispatcher().handle(msg('opened', incident('INC-2', { priority: 'P4' })));
    expect(received.filter((r) => r.path === '/hook')).toHaveLength(3);
    expect(await deadLetters('INC-2')).toEqual([]);

    received.length = 0;
    script.set('/hook', [500, 500, 500, 500]);
    await dispatcher().handle(msg('opened', incident('INC-3', { priority: 'P4' })));
    expect(received.filter((r) => r.path === '/hook')).toHaveLength(3);
    script.set('/hook', [400]);
    await dispatcher().handle(msg('opened', incident('INC-4', { priority: 'P4' })));
    expect(received.filter((r) => r.path === '/hook')).toHaveLength(4); // a 400 is not retried
    expect(await deadLetters('INC-3')).toEqual([
      { source: 'notify/hook', reason: expect.stringMatching(/failed: HTTP 500/) },
    ]);
    expect((await deadLetters('INC-4'))[0]!.reason).toMatch(/HTTP 400/);
    script.clear();
  });

  it('rate-limits a storm per target but always lets resolves through', async () => {
    received.length = 0;
    const d = dispatcher();
    for (let i = 0; i < 5; i++) await d.handle(msg('opened', incident(`INC-S${i}`, { priority: 'P4' })));
    expect(received.filter((r) => r.path === '/hook')).toHaveLength(2);
    expect((await deadLetters('INC-S4'))[0]).toEqual({
      source: 'notify/hook',
      reason: expect.stringMatching(/rate limited/),
    });
    await d.handle(msg('resolved', incident('INC-S0', { status: 'resolved', priority: 'P4' })));
    expect(received.filter((r) => r.path === '/hook')).toHaveLength(3);
  });

  it('notifies from the running correlate role when an alert opens an incident', async () => {
    received.length = 0;
    const res = await fetch(`http://${rt.httpAddress}/api/v1/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ labels: { alertname: 'DiskFull', service: 'files', severity: 'warning' } }),
    });
    expect(res.status).toBe(202);
    for (let i = 0; i < 100 && !received.some((r) => r.path === '/hook'); i++) await sleep(100);
    const hook = received.find((r) => r.path === '/hook');
    expect(JSON.parse(hook!.body)).toMatchObject({
      type: 'opened',
      incident: { title: expect.stringMatching(/DiskFull/) },
    });
  });
});
