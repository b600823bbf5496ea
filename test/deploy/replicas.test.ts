import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TOPICS } from '../../core/bus/topics.ts';
import type { Alert, Incident } from '../../core/model/records.ts';
import { startKafka, type KafkaBroker } from '../support/kafka.ts';
import { startOpsight, until, type OpsightProcess } from '../support/deploy-process.ts';

/**
 * Two `--role detect` and two `--role correlate` processes on one broker and one ClickHouse, as
 * deploy/compose.yaml runs them: one of each pair leads (Kafka group membership). A target that
 * goes down must give one TargetDown alert, not one per detect process; alerts sent to either
 * correlate process must form one incident, not one per process; and when a leader is SIGKILLed
 * the standby must take over with the state the dead one left (the same incident grows, the
 * TargetDown alert is not fired again).
 *
 * Topic and group names are fixed in opsight, so this test runs its own Kafka broker.
 */

let kafka: KafkaBroker;
let consumer: Consumer;
let ch: ClickHouseClient;
let dir: string;
const database = `opsight_replicas_${Math.random().toString(36).slice(2, 8)}`;
const procs: OpsightProcess[] = [];
/** Every alert published on opsight.alerts, by whichever process. */
const published: Alert[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsight-replicas-'));
  kafka = await startKafka();
  ch = createClient({ url: inject('clickhouseUrl'), username: 'default', password: '' });
}, 180_000);

afterAll(async () => {
  for (const p of procs) await p.kill();
  await consumer?.disconnect();
  await ch?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch?.close();
  await kafka?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function env(): Record<string, string> {
  return {
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_PARTITIONS: '4',
    CLICKHOUSE_URL: inject('clickhouseUrl'),
    CLICKHOUSE_DATABASE: database,
  };
}

/** Rounds every second, firing on the first breach, so the test sees doubles quickly. */
function configFile(): string {
  const file = join(dir, 'opsight-test.yaml');
  writeFileSync(
    file,
    [
      'writer:',
      '  maxAgeMs: 200',
      'detect:',
      '  health:',
      '    intervalSeconds: 1',
      '    fireAfter: 1',
      '    resolveAfter: 1000',
      'correlate:',
      '  tickSeconds: 1',
      '',
    ].join('\n'),
  );
  return file;
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

interface DetectorsView {
  leader: boolean;
  detectors: { name: string; scored: number }[];
  standby?: string[];
}
const detectors = (p: OpsightProcess) =>
  json<DetectorsView>(`${p.http}/api/v1/detectors`).then((r) => r.body);
/** Health rounds done by the process (0 when it is a standby and never led). */
const healthRounds = async (p: OpsightProcess) =>
  (await detectors(p)).detectors.find((d) => d.name === 'health')?.scored ?? 0;

/** A correlate leader answers an action on an unknown incident 404, a standby 503. */
async function correlateAnswer(p: OpsightProcess): Promise<number> {
  const res = await fetch(`${p.http}/api/v1/incidents/no-such-incident/acknowledge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  await res.text();
  return res.status;
}

async function postAlert(p: OpsightProcess, name: string): Promise<void> {
  const res = await fetch(`${p.http}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      labels: { alertname: name, service: 'orders-db', severity: 'critical' },
      annotations: { summary: `${name} on orders-db` },
      kind: 'external',
    }),
  });
  expect(res.status, await res.text()).toBe(202);
}

const incidents = async (p: OpsightProcess) =>
  (await json<{ incidents: Incident[] }>(`${p.http}/api/v1/incidents`)).body.incidents;

const targetDownFired = () =>
  published.filter((a) => a.labels.alertname === 'TargetDown' && a.status === 'firing').length;

async function targetDown(): Promise<void> {
  // What a scrape of a dead target writes: up = 0 for the job's instance.
  await ch.insert({
    table: `${database}.otel_metrics_gauge`,
    values: [
      {
        ServiceName: 'orders-db',
        MetricName: 'up',
        Attributes: { job: 'orders-db', instance: 'db-1:9187' },
        TimeUnix: new Date().toISOString().replace('T', ' ').replace('Z', ''),
        Value: 0,
      },
    ],
    format: 'JSONEachRow',
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
}

describe('detect and correlate replicas (one leader each)', () => {
  it('does not double alerts or split incidents, and a standby takes over from a killed leader', async () => {
    const config = configFile();
    const start = (role: string) => startOpsight(['--config', config, 'start', '--role', role], env(), dir);
    // The first process creates the database, schema and topics; the others find them.
    const detect1 = await start('detect');
    procs.push(detect1);
    const [detect2, correlate1, correlate2] = await Promise.all([
      start('detect'),
      start('correlate'),
      start('correlate'),
    ]);
    procs.push(detect2, correlate1, correlate2);

    consumer = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({
      groupId: 'replicas-test',
    });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.alerts, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void published.push(JSON.parse(message.value!.toString()) as Alert),
    });

    // Exactly one leader of each role.
    const detectViews = await until(
      'one detect leader',
      () => Promise.all([detect1, detect2].map(detectors)),
      (v) => v.filter((d) => d.leader).length === 1,
    );
    const [detectLeader, detectStandby] = detectViews[0]!.leader ? [detect1, detect2] : [detect2, detect1];
    expect(detectViews.find((d) => !d.leader)!.standby).toEqual(expect.arrayContaining(['health', 'cost']));
    const answers = await until(
      'one correlate leader',
      () => Promise.all([correlate1, correlate2].map(correlateAnswer)),
      (v) => v.includes(404) && v.includes(503),
    );
    const [corrLeader, corrStandby] =
      answers[0] === 404 ? [correlate1, correlate2] : [correlate2, correlate1];

    // One target down: the health rule fires once, although two detect processes run.
    await targetDown();
    await until(
      'TargetDown published',
      async () => targetDownFired(),
      (n) => n >= 1,
    );
    const rounds = await healthRounds(detectLeader);
    await until(
      'three more health rounds',
      () => healthRounds(detectLeader),
      (n) => n >= rounds + 3,
    );
    expect(targetDownFired()).toBe(1);
    expect(await healthRounds(detectStandby)).toBe(0);

    // Alerts sent to both correlate processes (each publishes to the bus) form one incident.
    for (let i = 0; i < 6; i++) await postAlert(i % 2 ? corrStandby : corrLeader, `PostgresDown${i}`);
    const [incident] = await until(
      'one incident with the 7 alerts',
      () => incidents(corrStandby),
      (l) => l.length === 1 && l[0]!.alertFingerprints.length === 7,
    );

    // The correlate leader dies; the standby takes over and keeps growing the same incident.
    const killedAt = Date.now();
    await corrLeader.kill();
    await until(
      'the standby leads',
      () => correlateAnswer(corrStandby),
      (s) => s === 404,
    );
    const takeoverMs = Date.now() - killedAt;
    await postAlert(corrStandby, 'PostgresReplicationLag');
    const after = await until(
      'the same incident with 8 alerts',
      () => incidents(corrStandby),
      (l) => l.some((x) => x.alertFingerprints.length === 8),
    );
    expect(after.map((x) => x.id)).toEqual([incident!.id]);

    // The detect leader dies; the standby leads with the gates the dead one saved: TargetDown
    // is still firing, not fired again.
    const detectKilledAt = Date.now();
    await detectLeader.kill();
    await until(
      'the detect standby leads',
      () => detectors(detectStandby),
      (v) => v.leader,
    );
    const detectTakeoverMs = Date.now() - detectKilledAt;
    await until(
      'three health rounds on the new leader',
      () => healthRounds(detectStandby),
      (n) => n >= 3,
    );
    expect(targetDownFired()).toBe(1);

    console.log(
      `replicas: correlate takeover after SIGKILL ${takeoverMs} ms, detect takeover ${detectTakeoverMs} ms`,
    );
    for (const p of [detectStandby, corrStandby]) expect(await p.stop(), p.role).toBe(0);
  }, 600_000);
});
