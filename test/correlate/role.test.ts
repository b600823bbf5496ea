import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '../../core/bus/topics.ts';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { setLogLevel } from '../../core/log.ts';
import type { Incident } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { startCorrelateRole } from '../../correlate/role.ts';
import type { IncidentEvent } from '../../correlate/engine/correlator.ts';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.ts';

/**
 * The correlate role end to end: a real Alertmanager routes alerts to the webhook, the
 * correlator groups them over the CMDB into one triaged incident (root cause, known error,
 * suspect change), stores versions, publishes events; the API acknowledges; resolved alerts
 * auto-resolve the incident; a restart recovers it.
 */

const DB = 'correlate_role_test';
const config = configSchema.parse({
  clickhouse: { url: inject('clickhouseUrl'), database: DB },
  http: { addr: '127.0.0.1:0' },
  correlate: { tickSeconds: 0.5, quietPeriodSeconds: 1 },
} satisfies ConfigInput);

let rt: Runtime;
let am: RunningAlertmanager;
const events: IncidentEvent[] = [];
const now = Date.now();

async function seedCmdb() {
  // A runtime with no roles creates the schema; the correlator reads the CMDB when it starts.
  const boot = await startRuntime(config, {}, []);
  const client = boot.clickhouse;
  const insert = (table: string, values: Record<string, unknown>[]) =>
    client.insert({
      table,
      values,
      format: 'JSONEachRow',
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
  const ci = (id: string, cls: string, service: string, criticality: string) => ({
    id,
    name: id,
    class: cls,
    service,
    owner_group: 'team-a',
    environment: 'prod',
    criticality,
    attributes: {},
    discovered: false,
    source: 'test',
    deleted: 0,
  });
  await insert('cmdb_ci', [
    ci('db-1', 'database', 'orders-db', '1 - most critical'),
    ci('orders-api', 'service', 'orders-api', '2 - somewhat critical'),
  ]);
  await insert('cmdb_rel', [
    { parent: 'orders-api', child: 'db-1', type: 'depends_on', source: 'test', deleted: 0 },
  ]);
  await insert('known_errors', [
    {
      id: 'KE0042',
      title: 'Postgres down after failed minor upgrade',
      symptoms: ['alertname=PostgresDown'],
      scope: ['database'],
      workaround: 'Fail over to the replica',
      problem_ref: 'PRB0007',
      status: 'open',
      deleted: 0,
    },
  ]);
  await insert('changes', [
    {
      ci: 'db-1',
      time: new Date(now - 5 * 60_000).toISOString(),
      kind: 'deployment',
      id: 'CHG0031',
      description: 'postgres 16.3',
      link: '',
      source: 'test',
    },
  ]);
  // A service that sends telemetry but is not in the CMDB.
  await insert('otel_logs', [
    { Timestamp: new Date(now).toISOString(), ServiceName: 'inventory', Body: 'started' },
  ]);
  await boot.stop();
}

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://${rt.httpAddress}${path}`, init);
  return { status: res.status, body: (await res.json()) as T };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; alertmanager: ${am?.log()}`);
    await sleep(200);
  }
}

const incidents = async () => (await api<{ incidents: Incident[] }>('/api/v1/incidents')).body.incidents;

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  await seedCmdb();
  rt = await startRuntime(config, { correlate: startCorrelateRole }, ['correlate']);
  await rt.bus.subscribe<IncidentEvent>({
    group: 'test',
    topics: [TOPICS.incidents],
    handler: async (b) => void events.push(...b.messages.map((m) => m.value)),
  });
  am = await startAlertmanager(`http://${rt.httpAddress}/api/v1/alerts/alertmanager`);
}, 90_000);

afterAll(async () => {
  await am?.stop();
  await rt?.stop();
});

describe('correlate role', () => {
  let id: string;

  it('turns Alertmanager notifications into one triaged incident', async () => {
    await am.send([
      {
        labels: { alertname: 'PostgresDown', service: 'orders-db', severity: 'critical' },
        annotations: { summary: 'postgres on db-1 is down' },
      },
      {
        labels: { alertname: 'HighErrorRatio', service: 'orders-api', severity: 'warning' },
        annotations: { summary: '30% of requests fail' },
      },
    ]);
    const inc = await until('one incident with both alerts', async () => {
      const list = await incidents();
      return list.length === 1 && list[0]!.alertFingerprints.length === 2 ? list[0] : undefined;
    });
    id = inc.id;
    expect(inc.status).toBe('open');
    expect(inc.rootCauses[0]!.ci).toBe('db-1');
    expect(inc.blastRadius).toEqual(['orders-api']);
    expect(inc.knownErrors.map((k) => [k.id, k.workaround])).toEqual([
      ['KE0042', 'Fail over to the replica'],
    ]);
    expect(inc.changes!.map((c) => c.id)).toEqual(['CHG0031']);
    expect(inc.priority).toBe('P1');
    expect(inc.service).toBe('orders-db');
    expect(inc.title).toMatch(/^db-1: postgres on db-1 is down/);
    expect(events.map((e) => e.type)).toContain('opened');
    // Stored as received, with Alertmanager's fingerprints.
    const rs = await rt.clickhouse.query({
      query: `SELECT DISTINCT fingerprint, source, severity FROM alerts ORDER BY severity`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ fingerprint: string; source: string; severity: string }>();
    expect(rows.map((r) => [r.source, r.severity])).toEqual([
      ['alertmanager', 'critical'],
      ['alertmanager', 'warning'],
    ]);
    expect(new Set(rows.map((r) => r.fingerprint))).toEqual(new Set(inc.alertFingerprints));
    // Registered from telemetry at start, marked discovered.
    const ci = await rt.clickhouse.query({
      query: `SELECT id, discovered FROM cmdb_ci FINAL WHERE service = 'inventory'`,
      format: 'JSONEachRow',
    });
    expect(await ci.json()).toEqual([{ id: 'discovered:inventory', discovered: true }]);
  });

  it('refuses bad payloads with 400 naming the problem', async () => {
    const post = (path: string, body: unknown) =>
      api<{ message: string }>(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const v3 = await post('/api/v1/alerts/alertmanager', {
      version: '3',
      status: 'firing',
      receiver: 'x',
      alerts: [],
    });
    expect(v3.status).toBe(400);
    expect(v3.body.message).toMatch(/version/);
    const noName = await post('/api/v1/alerts', { labels: { service: 'x' } });
    expect(noName.status).toBe(400);
    expect(noName.body.message).toMatch(/^alerts.0.labels: labels.alertname is required/);
    const badTime = await post('/api/v1/alerts', { labels: { alertname: 'X' }, startsAt: 'yesterday' });
    expect(badTime.status).toBe(400);
    expect(badTime.body.message).toMatch(/^alerts.0.startsAt: an ISO 8601/);
  });

  it('acknowledges through the API and auto-resolves once the alerts resolve', async () => {
    const ack = await api<Incident>(`/api/v1/incidents/${id}/acknowledge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'alice', note: 'looking' }),
    });
    expect(ack.status).toBe(200);
    expect(ack.body.status).toBe('acknowledged');
    const past = new Date(Date.now() - 1000).toISOString();
    await am.send([
      {
        labels: { alertname: 'PostgresDown', service: 'orders-db', severity: 'critical' },
        annotations: { summary: 'postgres on db-1 is down' },
        endsAt: past,
      },
      {
        labels: { alertname: 'HighErrorRatio', service: 'orders-api', severity: 'warning' },
        annotations: { summary: '30% of requests fail' },
        endsAt: past,
      },
    ]);
    const done = await until('auto-resolve', async () => {
      const i = (await api<Incident>(`/api/v1/incidents/${id}`)).body;
      return i.status === 'resolved' ? i : undefined;
    });
    expect(done.timeline.map((t) => t.event)).toEqual(
      expect.arrayContaining(['acknowledged by alice: looking', expect.stringMatching(/^auto-resolved/)]),
    );
    expect(Date.parse(done.acknowledgedAt!)).toBeLessThanOrEqual(Date.parse(done.resolvedAt!));
    await until('resolved event', async () => (events.some((e) => e.type === 'resolved') ? true : undefined));
  });

  it('recovers incidents after a restart: a flapping alert re-opens the same incident', async () => {
    await am.stop();
    await rt.stop();
    rt = await startRuntime(config, { correlate: startCorrelateRole }, ['correlate']);
    am = await startAlertmanager(`http://${rt.httpAddress}/api/v1/alerts/alertmanager`);
    await am.send([
      {
        labels: { alertname: 'PostgresDown', service: 'orders-db', severity: 'critical' },
        annotations: { summary: 'postgres on db-1 is down' },
      },
    ]);
    const again = await until('re-opened', async () => {
      const i = (await api<Incident>(`/api/v1/incidents/${id}`)).body;
      return i.status === 'open' ? i : undefined;
    });
    expect(again.timeline.map((t) => t.event)).toContainEqual(expect.stringMatching(/^re-opened/));
    expect(await incidents()).toHaveLength(1);
  });
});
