import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { setLogLevel } from '../../core/log.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { changesImport, cmdbImport, kedbImport } from '../../correlate/cli/import.ts';
import { mountCmdbApi } from '../../correlate/http/cmdb.ts';
import { loadChanges, loadKnownErrors } from '../../correlate/store/cmdb.ts';

/**
 * Known errors (YAML and ServiceNow problem/KB exports, and the API) and changes (the API and
 * a ServiceNow change_request export) against the real ClickHouse, read back through the
 * correlator's loaders.
 */

const DB = 'correlate_cmdb_kedb_changes_test';
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/cmdb/${name}`, import.meta.url));
const config = configSchema.parse({
  clickhouse: { url: inject('clickhouseUrl'), database: DB },
  http: { addr: '127.0.0.1:0' },
} satisfies ConfigInput);

let rt: Runtime;
let ch: ClickHouseClient;
let api: { address: string; close(): Promise<void> };
const sysId = (n: number) => `a1f0${'0'.repeat(26)}${n.toString(16)}a`;

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  rt = await startRuntime(config, {}, []);
  ch = rt.clickhouse;
  for (const t of ['cmdb_ci', 'cmdb_rel', 'known_errors', 'changes'])
    await ch.command({ query: `TRUNCATE TABLE IF EXISTS ${t}` });
  // Changes link to CIs by id: the ServiceNow CMDB gives them something to resolve against.
  await cmdbImport(ch, fixture('servicenow-cmdb.json'));
  const http = createHttpApp({ config });
  mountCmdbApi(http, ch);
  api = await http.listen();
}, 90_000);

afterAll(async () => {
  await api?.close();
  await rt?.stop();
});

const kes = async () => new Map((await loadKnownErrors(ch)).map((k) => [k.id, k]));

describe('KEDB', () => {
  it('imports YAML known errors, naming the bad ones by position and line', async () => {
    const file = fixture('known-errors.yaml');
    const r = await kedbImport(ch, file);
    expect(r).toMatchObject({ accepted: 2, rejected: 2 });
    expect(r.errors).toEqual([
      `${file}: known error 3 (line 18): KE-003: symptoms: at least one symptom is needed to match anything`,
      `${file}: known error 4 (line 21): id: missing`,
    ]);
    const k = await kes();
    expect(k.get('KE-001')).toEqual({
      id: 'KE-001',
      title: 'Postgres connection pool exhausted after deploy',
      symptoms: [
        'alertname=PostgresTooManyConnections',
        'annotation.summary~remaining connection slots',
        'connection pool exhausted',
      ],
      scope: ['db_postgresql_instance', 'orders'],
      workaround: 'Restart pgbouncer on the primary, then roll back the deploy',
      problemRef: 'PRB0040012',
      problem_ref: 'PRB0040012',
      status: 'open',
    });
    expect(k.get('KE-002')).toMatchObject({ scope: ['app_server_redis'], status: 'open', problemRef: '' });
  });

  it('a YAML re-import retracts the known errors its source no longer lists', async () => {
    const text = await readFile(fixture('known-errors.yaml'), 'utf8');
    const file = `${process.env.TMPDIR ?? '/tmp'}/opsight-kedb-${process.pid}.yaml`;
    // KE-002 fixed for good: the export drops it.
    await writeFile(file, text.replace(/- id: KE-002[\s\S]*?(?=- id: KE-003)/, ''));
    const r = await kedbImport(ch, file);
    expect(r).toMatchObject({ accepted: 1, rejected: 2 });
    expect(r.detail).toBe('yaml, source yaml: 1 known errors stored, 1 retracted');
    const k = await kes();
    expect(k.has('KE-001')).toBe(true);
    expect(k.has('KE-002')).toBe(false);
  });

  it('imports ServiceNow problems flagged known error and KB articles; other problems are skipped', async () => {
    const file = fixture('servicenow-problems.json');
    const r = await kedbImport(ch, file);
    expect(r).toMatchObject({ accepted: 2, rejected: 1 });
    expect(r.detail).toBe(
      'servicenow, source servicenow: 2 known errors stored, 0 retracted, 1 records that are no known error skipped',
    );
    expect(r.errors).toEqual([`${file}: result[3]: PRB0040020: no short_description`]);
    const k = await kes();
    expect(k.get('PRB0040012')).toMatchObject({
      title: 'Payment timeouts when the orders database fails over',
      symptoms: [
        'alertname=PaymentTimeouts',
        'service=payments-api',
        'Payment timeouts when the orders database fails over',
        'Checkout requests time out for up to 5 minutes after a failover of orders-db.',
      ],
      scope: ['orders-db'],
      workaround: 'Restart the payments-api pods after the failover.',
      problemRef: 'PRB0040012',
      status: 'known error',
    });
    expect(k.get('KB0010020')).toMatchObject({
      symptoms: ['disk usage above 95% on web host'],
      scope: ['linux_server'],
      workaround: 'Delete /var/log/nginx/*.gz older than 7 days',
      problemRef: 'PRB0040001',
      status: 'published',
    });
    expect(k.has('PRB0040013')).toBe(false);
    // Another source: the YAML known errors stay.
    expect(k.has('KE-001')).toBe(true);
  });

  it('POST /api/v1/known-errors takes YAML or JSON lists and names the bad field', async () => {
    const post = (body: string, type: string, q = '') =>
      fetch(`http://${api.address}/api/v1/known-errors${q}`, {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      });
    const yamlRes = await post(
      '- id: KE-API-1\n  title: Kafka consumer lag\n  symptoms: [alertname=KafkaLag]\n',
      'application/yaml',
      '?source=runbooks',
    );
    expect(yamlRes.status).toBe(200);
    expect(await yamlRes.json()).toMatchObject({ accepted: 1, rejected: 0, source: 'runbooks' });
    const jsonRes = await post(
      JSON.stringify([
        { id: 'KE-API-2', title: 'TLS certificate expired', symptoms: ['certificate expired'], scope: 'lb' },
      ]),
      'application/json',
    );
    expect(jsonRes.status).toBe(200);
    const k = await kes();
    expect(k.get('KE-API-1')?.symptoms).toEqual(['alertname=KafkaLag']);
    expect(k.get('KE-API-2')?.scope).toEqual(['lb']);

    const bad = await post(
      JSON.stringify([{ id: 'KE-X', title: 'x', symptoms: 'a', scope: [{}] }]),
      'application/json',
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe(
      'body.json: known error 1 (line 1): KE-X: scope[0]: expected a string',
    );
  });
});

describe('changes', () => {
  const post = (body: unknown) =>
    fetch(`http://${api.address}/api/v1/changes`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });

  it('POST /api/v1/changes stores one change or a list, resolving a CI name to its id', async () => {
    const one = await post({
      ci: 'payments-api',
      time: '2026-11-23T06:00:00Z',
      kind: 'deployment',
      id: 'deploy-981',
      description: 'payments-api 4.2.1',
      link: 'https://ci.example.com/builds/981',
    });
    expect(one.status).toBe(202);
    expect(await one.json()).toEqual({ accepted: 1, changes: [{ id: 'deploy-981', ci: sysId(3) }] });
    const list = await post([
      { ci: 'unknown-ci', time: '2026-11-23T06:01:00+01:00', kind: 'config' },
      { ci: sysId(4), time: '2026-11-23T06:02:00.500Z', id: 'flag-7' },
    ]);
    expect(list.status).toBe(202);
    const changes = await loadChanges(ch, Date.parse('2026-11-23T00:00:00Z'));
    expect(changes).toContainEqual({
      id: 'deploy-981',
      ci: sysId(3),
      time: Date.parse('2026-11-23T06:00:00Z'),
      kind: 'deployment',
      description: 'payments-api 4.2.1',
      link: 'https://ci.example.com/builds/981',
    });
    expect(changes).toContainEqual({
      id: 'config:unknown-ci:2026-11-23T05:01:00.000Z',
      ci: 'unknown-ci',
      time: Date.parse('2026-11-23T05:01:00Z'),
      kind: 'config',
      description: '',
      link: '',
    });
    expect(changes.find((c) => c.id === 'flag-7')).toMatchObject({ ci: sysId(4), kind: 'change' });
  });

  it('answers 400 naming the field, storing nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ci: 'x', kind: 'deployment' }, /^time: /],
      [{ ci: 'x', time: 'yesterday' }, /^time: an ISO 8601 time/],
      [{ ci: '', time: '2026-11-23T06:00:00Z' }, /^ci: /],
      [
        [
          { ci: 'x', time: '2026-11-23T06:00:00Z' },
          { ci: 'y', time: '2026-11-23T06:00:00Z', link: 'ftp://x' },
        ],
        /^1\.link: /,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
    const changes = await loadChanges(ch, 0);
    expect(changes.some((c) => c.ci === 'x' || c.ci === 'y')).toBe(false);
  });

  it('imports a ServiceNow change_request export, naming bad records', async () => {
    const file = fixture('servicenow-changes.json');
    const r = await changesImport(ch, file);
    expect(r).toMatchObject({ accepted: 2, rejected: 2 });
    expect(r.errors).toEqual([
      `${file}: records[2]: CHG0030003: no cmdb_ci`,
      `${file}: records[3]: CHG0030004: start_date: "next tuesday" is not a time`,
    ]);
    const changes = await loadChanges(ch, Date.parse('2026-11-23T00:00:00Z'));
    expect(changes).toContainEqual({
      id: 'CHG0030001',
      ci: sysId(4),
      // work_start (when the work began) wins over the planned start.
      time: Date.parse('2026-11-23T05:10:00Z'),
      kind: 'normal change',
      description: 'Upgrade PostgreSQL 16.2 to 16.3',
      link: '',
    });
    expect(changes.find((c) => c.id === 'CHG0030002')).toMatchObject({
      ci: sysId(1), // "checkout" by name
      time: Date.parse('2026-11-23T04:30:00Z'),
      kind: 'emergency change',
    });
  });
});
