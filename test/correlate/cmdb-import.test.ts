import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { configSchema, type ConfigInput } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { setLogLevel } from '../../core/log.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { cmdbImport } from '../../correlate/cli/import.ts';
import { runImport } from '../../correlate/cli/run.ts';
import { mountCmdbApi } from '../../correlate/http/cmdb.ts';
import { loadCis, loadRelations } from '../../correlate/store/cmdb.ts';
import type { Ci } from '../../correlate/engine/model.ts';

/**
 * CMDB importers against the real ClickHouse: each format's sample file read back through the
 * correlator's own loaders, bad records reported with their record index or line while the
 * good ones land, a re-import retracting what the export no longer has, and the HTTP API.
 */

const DB = 'correlate_cmdb_import_test';
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/cmdb/${name}`, import.meta.url));
const ADMIN = 'admin-token-0123456789';
const INGEST = 'ingest-token-0123456789';
const config = configSchema.parse({
  clickhouse: { url: inject('clickhouseUrl'), database: DB },
  http: {
    addr: '127.0.0.1:0',
    tokens: [
      { name: 'admin', token: ADMIN, scopes: ['admin', 'read', 'ingest'] },
      { name: 'ingest', token: INGEST, scopes: ['ingest'] },
    ],
  },
} satisfies ConfigInput);

let rt: Runtime;
let ch: ClickHouseClient;
let api: { address: string; close(): Promise<void> };

beforeAll(async () => {
  setLogLevel(process.env.OPSIGHT_TEST_LOG_LEVEL ?? 'silent');
  // A runtime with no roles creates the schema and gives a client on the test database.
  rt = await startRuntime(config, {}, []);
  ch = rt.clickhouse;
  for (const t of ['cmdb_ci', 'cmdb_rel']) await ch.command({ query: `TRUNCATE TABLE IF EXISTS ${t}` });
  const http = createHttpApp({ config });
  mountCmdbApi(http, ch);
  api = await http.listen();
}, 90_000);

afterAll(async () => {
  await api?.close();
  await rt?.stop();
});

const bySource = async (source: string) => {
  const rs = await ch.query({
    query: 'SELECT id FROM cmdb_ci FINAL WHERE deleted = 0 AND source = {s:String}',
    query_params: { s: source },
    format: 'JSONEachRow',
  });
  return new Set((await rs.json<{ id: string }>()).map((r) => r.id));
};
const relsOf = async (ids: Set<string>) =>
  (await loadRelations(ch)).filter((r) => ids.has(r.parent) || ids.has(r.child));
const ci = (cis: Ci[], id: string) => {
  const c = cis.find((x) => x.id === id);
  expect(c, `CI ${id}`).toBeDefined();
  return c!;
};

describe('ServiceNow JSON export', () => {
  const id = (n: number) => `a1f0${'0'.repeat(26)}${n.toString(16)}a`;

  it('imports CIs and typed relations, mapping classes, criticality and display values', async () => {
    const r = await cmdbImport(ch, fixture('servicenow-cmdb.json'));
    expect(r.accepted).toBe(10 + 9);
    expect(r.rejected).toBe(4);
    const file = fixture('servicenow-cmdb.json');
    expect(r.errors).toEqual([
      `${file}: cmdb_ci[10]: no sys_id (name orphan-without-id)`,
      `${file}: cmdb_ci[11]: CI a1f000000000000000000000000000ca has no name`,
      `${file}: cmdb_rel_ci[9]: relation without child`,
      expect.stringMatching(
        /^.*: cmdb_rel_ci\[10\]: relation type 1a9cb166f1571100a92eb60da2bce5c5 is a sys_id/,
      ),
    ]);

    const cis = await loadCis(ch);
    expect((await bySource('servicenow')).size).toBe(10);
    const checkout = ci(cis, id(1));
    expect(checkout).toMatchObject({
      name: 'checkout',
      class: 'service_discovered',
      service: 'checkout',
      ownerGroup: 'Payments SRE',
      environment: 'production',
      criticality: 'critical',
    });
    expect(checkout.attributes.sys_class_name).toBe('cmdb_ci_service_discovered');
    expect(checkout.attributes.sys_updated_on).toBeUndefined();
    expect(ci(cis, id(2)).criticality).toBe('high');
    expect(ci(cis, id(3))).toMatchObject({ class: 'appl', service: 'payments-api', criticality: 'critical' });
    expect(ci(cis, id(3)).attributes.version).toBe('4.2.0');
    expect(ci(cis, id(4))).toMatchObject({
      class: 'db_postgresql_instance',
      service: 'orders',
      ownerGroup: 'DBA',
    });
    expect(ci(cis, id(5)).criticality).toBe('medium');
    expect(ci(cis, id(9)).criticality).toBe('low');
    // Host addresses are what the alert binder looks hosts up by.
    expect(ci(cis, id(6)).attributes).toMatchObject({
      ip_address: '10.1.2.11',
      fqdn: 'web-01.prod.example.com',
      host_name: 'web-01',
    });
    expect(ci(cis, id(6)).service).toBeUndefined();

    const rels = await relsOf(await bySource('servicenow'));
    const has = (p: number, c: number, type: string) =>
      expect(rels, `${p} -> ${c} ${type}`).toContainEqual({ parent: id(p), child: id(c), type });
    expect(rels).toHaveLength(9);
    has(1, 3, 'depends_on');
    has(1, 2, 'depends_on');
    has(2, 5, 'depends_on');
    has(3, 4, 'depends_on');
    has(3, 6, 'runs_on');
    has(3, 7, 'runs_on');
    has(4, 8, 'runs_on');
    has(6, 9, 'hosted_on');
    has(7, 9, 'hosted_on');
  });

  it('a re-import is the truth for its source: a CI and relation no longer exported are retracted', async () => {
    const doc = JSON.parse(await readFile(fixture('servicenow-cmdb.json'), 'utf8')) as {
      cmdb_ci: { sys_id: string }[];
      cmdb_rel_ci: { sys_id: string }[];
    };
    doc.cmdb_ci = doc.cmdb_ci.filter((c) => c.sys_id !== id(9)); // esx-07 decommissioned
    doc.cmdb_rel_ci = doc.cmdb_rel_ci.filter((r) => !['r08', 'r09'].includes(r.sys_id));
    const file = `${process.env.TMPDIR ?? '/tmp'}/opsight-cmdb-reimport-${process.pid}.json`;
    await writeFile(file, JSON.stringify(doc));
    const r = await cmdbImport(ch, file);
    expect(r.accepted).toBe(9 + 7);
    expect(r.detail).toContain('1 CIs and 2 relations retracted');

    const cis = await loadCis(ch);
    expect(cis.find((c) => c.id === id(9))).toBeUndefined();
    expect(ci(cis, id(6)).name).toBe('web-01');
    const rels = await relsOf(await bySource('servicenow'));
    expect(rels.some((x) => x.type === 'hosted_on')).toBe(false);
    expect(rels).toHaveLength(7);
    const rs = await ch.query({
      query: 'SELECT deleted FROM cmdb_ci FINAL WHERE id = {id:String}',
      query_params: { id: id(9) },
      format: 'JSONEachRow',
    });
    // Retracted, not forgotten: FINAL either hides the row or shows it deleted.
    expect((await rs.json<{ deleted: number }>()).every((x) => x.deleted === 1)).toBe(true);
  });
});

describe('CSV', () => {
  it('imports a CI file with extra columns as attributes, naming bad lines', async () => {
    const file = fixture('cis.csv');
    const r = await cmdbImport(ch, file);
    expect(r).toMatchObject({ accepted: 5, rejected: 2 });
    expect(r.errors).toEqual([
      `${file}: line 6: no id (name nameless-and-idless)`,
      `${file}: line 7: CI host-web-2 has no name`,
    ]);
    const cis = await loadCis(ch);
    expect(ci(cis, 'svc-checkout')).toMatchObject({
      name: 'checkout',
      class: 'service',
      service: 'checkout',
      ownerGroup: 'payments',
      environment: 'prod',
      criticality: 'critical',
      attributes: { region: 'eu-west-1' },
    });
    expect(ci(cis, 'db-orders')).toMatchObject({ class: 'database', criticality: 'critical' });
    expect(ci(cis, 'db-orders').attributes).toEqual({ region: 'eu-west-1', rack: 'r12' });
    expect(ci(cis, 'lb-1')).toMatchObject({ name: 'edge, load balancer', criticality: 'high' });
    expect(ci(cis, 'host-web-1').service).toBeUndefined();
  });

  it('detects a relations file by its header; importing it leaves the CSV CIs alone', async () => {
    const file = fixture('relations.csv');
    const r = await cmdbImport(ch, file);
    expect(r).toMatchObject({ accepted: 4, rejected: 1, errors: [`${file}: line 6: no parent`] });
    const rels = await relsOf(await bySource('csv'));
    expect(rels).toEqual(
      expect.arrayContaining([
        { parent: 'svc-checkout', child: 'svc-cart', type: 'depends_on' },
        { parent: 'svc-checkout', child: 'db-orders', type: 'depends_on' },
        { parent: 'svc-cart', child: 'host-web-1', type: 'runs_on' },
        { parent: 'lb-1', child: 'svc-checkout', type: 'depends_on' },
      ]),
    );
    expect(rels).toHaveLength(4);
    expect((await bySource('csv')).size).toBe(5);
  });
});

describe('Backstage catalog-info.yaml', () => {
  it('imports Component, System, Resource and API entities with dependsOn and API relations', async () => {
    const file = fixture('catalog-info.yaml');
    const r = await cmdbImport(ch, file, { source: 'backstage-main' });
    expect(r.rejected).toBe(1);
    expect(r.errors[0]).toBe(`${file}: document 9 (line 87): Component without metadata.name`);
    const ids = await bySource('backstage-main');
    expect([...ids].sort()).toEqual([
      'api:default/payments-api',
      'component:default/cart',
      'component:default/checkout',
      'component:finance/payments',
      'resource:default/orders-db',
      'resource:default/redis-cart',
      'system:default/storefront',
    ]);
    const cis = await loadCis(ch);
    expect(ci(cis, 'component:default/checkout')).toMatchObject({
      name: 'checkout',
      class: 'service',
      service: 'checkout',
      ownerGroup: 'payments-team',
      environment: 'production',
    });
    expect(ci(cis, 'component:default/checkout').attributes).toMatchObject({
      system: 'storefront',
      'annotation.backstage.io/kubernetes-id': 'checkout',
    });
    expect(ci(cis, 'component:default/cart').ownerGroup).toBe('storefront-team');
    expect(ci(cis, 'component:finance/payments').environment).toBe('development');
    expect(ci(cis, 'resource:default/orders-db')).toMatchObject({ class: 'database', ownerGroup: 'dba' });
    expect(ci(cis, 'resource:default/orders-db').service).toBeUndefined();
    expect(ci(cis, 'system:default/storefront').class).toBe('system');

    const rels = await relsOf(ids);
    expect(rels).toEqual(
      expect.arrayContaining([
        { parent: 'component:default/checkout', child: 'resource:default/orders-db', type: 'depends_on' },
        { parent: 'component:default/checkout', child: 'component:default/cart', type: 'depends_on' },
        { parent: 'component:default/checkout', child: 'api:default/payments-api', type: 'consumes_api' },
        { parent: 'component:default/cart', child: 'resource:default/redis-cart', type: 'depends_on' },
        { parent: 'api:default/payments-api', child: 'component:finance/payments', type: 'provided_by' },
      ]),
    );
    expect(rels).toHaveLength(5);
  });
});

describe('opsight cmdb import (runImport)', () => {
  it('prints accepted/rejected with each bad record, exit 1; an unknown format is a usage error, exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const file = fixture('relations.csv');
    const code = await runImport(
      config,
      'cmdb',
      file,
      {},
      (s) => out.push(s),
      (s) => err.push(s),
    );
    expect(code).toBe(1);
    expect(out[0]).toMatch(
      /relations\.csv: 4 accepted, 1 rejected \(csv, source csv: 0 CIs and 4 relations stored/,
    );
    expect(err).toEqual([`opsight: ${file}: line 6: no parent\n`]);
    const bad = await runImport(
      config,
      'cmdb',
      file,
      { format: 'xml' },
      () => {},
      (s) => err.push(s),
    );
    expect(bad).toBe(2);
    expect(err.at(-1)).toMatch(/unknown CMDB format "xml"/);
    const missing = await runImport(
      config,
      'kedb',
      '/nonexistent/kedb.yaml',
      {},
      () => {},
      (s) => err.push(s),
    );
    expect(missing).toBe(2);
    expect(err.at(-1)).toMatch(/kedb\.yaml: cannot read \(ENOENT\)/);
  });
});

describe('HTTP API', () => {
  const url = (p: string) => `http://${api.address}${p}`;
  const post = (p: string, body: string, type: string, token = ADMIN) =>
    fetch(url(p), {
      method: 'POST',
      body,
      headers: { 'content-type': type, authorization: `Bearer ${token}` },
    });

  it('imports a CSV body under a named source and lists CIs by service and class', async () => {
    const body =
      'id,name,class,service,criticality\napi-1,api one,service,billing,2\napi-2,api two,host,billing,\n';
    const res = await post('/api/v1/cmdb/import?format=csv&source=billing-csv', body, 'text/csv');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      format: 'csv',
      source: 'billing-csv',
      accepted: 2,
      rejected: 0,
    });

    const list = await fetch(url('/api/v1/cmdb/cis?service=billing&class=service'), {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(list.status).toBe(200);
    const { cis } = (await list.json()) as { cis: { id: string; criticality: string; source: string }[] };
    expect(cis.map((c) => c.id)).toEqual(['api-1']);
    expect(cis[0]).toMatchObject({ criticality: 'high', source: 'billing-csv' });
  });

  it('refuses a body with no valid record, an unknown format, and a token without admin scope', async () => {
    const bad = await post('/api/v1/cmdb/import?format=csv', 'id,name\n,x\n', 'text/csv');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/line 2: no id/);
    const fmt = await post('/api/v1/cmdb/import?format=xml', '<x/>', 'application/xml');
    expect(fmt.status).toBe(400);
    expect(JSON.stringify(await fmt.json())).toContain('format: one of servicenow, csv, backstage');
    const denied = await post('/api/v1/cmdb/import?format=csv', 'id,name\na,b\n', 'text/csv', INGEST);
    expect(denied.status).toBe(403);
  });
});
