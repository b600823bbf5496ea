import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import {
  DASHBOARDS_DIR,
  PLUGIN_ID,
  PROVISIONING_DIR,
  grafanaSetup,
  type GrafanaSetup,
} from '../../bin/grafana.ts';
import { loadDashboards } from '../support/grafana-dashboards.ts';

const bin = join(process.cwd(), 'bin/opsight.js');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(args: string[], env: Record<string, string>) {
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (/^(CLICKHOUSE_|KAFKA_|OPSIGHT_|OTEL_)/.test(k)) delete clean[k];
  const cwd = mkdtempSync(join(tmpdir(), 'opsight-grafana-'));
  dirs.push(cwd);
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    env: { ...clean, OPSIGHT_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const datasourceFile = join(PROVISIONING_DIR, 'datasources', 'clickhouse.yaml');
const providerFile = join(PROVISIONING_DIR, 'dashboards', 'opsight.yaml');

/** Grafana's provisioning reads `${VAR}` / `$VAR` from its environment (a missing one is empty). */
function expandEnv(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => env[(a ?? b)!] ?? '');
}

interface DatasourceFile {
  apiVersion: number;
  datasources: {
    name: string;
    uid: string;
    type: string;
    jsonData: Record<string, unknown>;
    secureJsonData: Record<string, string>;
  }[];
}

describe('provisioning', () => {
  const setup = grafanaSetup({
    url: 'http://127.0.0.1:41234',
    embedded: true,
    database: 'opsight',
    user: 'default',
    password: '',
  });

  it('reads only variables that `opsight grafana` sets', () => {
    for (const file of [datasourceFile, providerFile]) {
      const refs = [...readFileSync(file, 'utf8').matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!);
      expect(refs.length, file).toBeGreaterThan(0);
      for (const r of refs) expect(Object.keys(setup.env), `${file}: ${r}`).toContain(r);
    }
  });

  it('declares the plugin datasource the dashboards default to, and a file provider for dashboards/', () => {
    const ds = parse(expandEnv(readFileSync(datasourceFile, 'utf8'), setup.env)) as DatasourceFile;
    expect(ds.apiVersion).toBe(1);
    const [d] = ds.datasources;
    expect(d).toMatchObject({
      type: PLUGIN_ID,
      jsonData: {
        host: '127.0.0.1',
        port: 41234,
        protocol: 'http',
        secure: false,
        defaultDatabase: 'opsight',
      },
    });
    for (const { file, json } of loadDashboards()) {
      const v = json.templating!.list!.find((x) => x.type === 'datasource')!;
      expect(v.current?.value, file).toBe(d!.uid);
    }
    const provider = parse(expandEnv(readFileSync(providerFile, 'utf8'), setup.env)) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: DASHBOARDS_DIR } });
    expect(readdirSync(provider.providers[0]!.options.path).filter((f) => f.endsWith('.json'))).toHaveLength(
      5,
    );
  });

  it('derives the datasource settings from the ClickHouse URL, never printing a password', () => {
    const remote = grafanaSetup({
      url: 'https://ops:pw@ch.example.com/',
      embedded: false,
      database: 'obs',
      user: 'ops',
      password: 'pw',
      host: 'ch-lb',
    });
    expect(remote.env).toMatchObject({
      OPSIGHT_CLICKHOUSE_HOST: 'ch-lb',
      OPSIGHT_CLICKHOUSE_PORT: '8443',
      OPSIGHT_CLICKHOUSE_SECURE: 'true',
      OPSIGHT_CLICKHOUSE_DATABASE: 'obs',
      OPSIGHT_CLICKHOUSE_USER: 'ops',
    });
    expect(JSON.stringify(remote)).not.toContain('pw@');
    expect(remote.env.OPSIGHT_CLICKHOUSE_PASSWORD).not.toBe('pw');
  });
});

describe('opsight grafana', () => {
  const url = inject('clickhouseUrl');

  it('prints settings that reach the ClickHouse in use', async () => {
    const r = run(['grafana', '--json'], { CLICKHOUSE_URL: url, CLICKHOUSE_DATABASE: 'default' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const setup = JSON.parse(r.stdout) as GrafanaSetup;
    expect(setup.clickhouse).toMatchObject({ url, embedded: false, database: 'default' });
    // What Grafana would connect with, after substituting the printed environment.
    const ds = (parse(expandEnv(readFileSync(datasourceFile, 'utf8'), setup.env)) as DatasourceFile)
      .datasources[0]!;
    const j = ds.jsonData as {
      host: string;
      port: number;
      secure: boolean;
      username: string;
      defaultDatabase: string;
    };
    const client = createClient({
      url: `${j.secure ? 'https' : 'http'}://${j.host}:${j.port}`,
      username: j.username,
      password: ds.secureJsonData.password ?? '',
      database: j.defaultDatabase,
    });
    const rs = await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ db: 'default' }]);
    await client.close();

    const text = run(['grafana'], { CLICKHOUSE_URL: url });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`export GF_PATHS_PROVISIONING=${PROVISIONING_DIR}`);
    expect(text.stdout).toContain(`export GF_INSTALL_PLUGINS=${PLUGIN_ID}`);
    expect(text.stdout).toContain(`export OPSIGHT_CLICKHOUSE_PORT=${new URL(url).port}`);
  });

  it('says so when the embedded server is not running', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'opsight-grafana-data-'));
    dirs.push(dataDir);
    const r = run(['grafana'], { OPSIGHT_DATA_DIR: dataDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no embedded ClickHouse is running .*opsight start/);
    expect(r.stdout).toBe('');
  });
});
