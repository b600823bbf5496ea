import { fileURLToPath } from 'node:url';
import { findRunning } from '../core/clickhouse/embedded.ts';
import type { Config } from '../core/config/schema.ts';

/**
 * `opsight grafana`: what to point Grafana at. The provisioning directory (datasource +
 * dashboard provider), the ClickHouse plugin to install, and the values of the environment
 * variables the provisioning files read, for the ClickHouse opsight uses (the configured remote
 * one, or the embedded server of the data directory).
 */

export const PLUGIN_ID = 'grafana-clickhouse-datasource';
export const DASHBOARDS_DIR = fileURLToPath(new URL('../dashboards/', import.meta.url)).replace(/\/$/, '');
export const PROVISIONING_DIR = `${DASHBOARDS_DIR}/provisioning`;

export interface GrafanaSetup {
  plugin: string;
  provisioningDir: string;
  dashboardsDir: string;
  clickhouse: { url: string; embedded: boolean; database: string; user: string };
  /** What the provisioning files read; the password only as a placeholder when one is set. */
  env: Record<string, string>;
  passwordSet: boolean;
  /** Embedded on a free port: the port differs at the next start. */
  portChanges: boolean;
}

export interface SetupInput {
  url: string;
  embedded: boolean;
  database: string;
  user: string;
  password: string;
  /** The host name Grafana reaches ClickHouse by, when not the URL's (Grafana in a container). */
  host?: string;
  fixedPort?: boolean;
}

export function grafanaSetup(i: SetupInput): GrafanaSetup {
  const u = new URL(i.url);
  const secure = u.protocol === 'https:';
  const port = u.port || (secure ? '8443' : '8123');
  const env: Record<string, string> = {
    GF_PATHS_PROVISIONING: PROVISIONING_DIR,
    GF_INSTALL_PLUGINS: PLUGIN_ID,
    OPSIGHT_DASHBOARDS_DIR: DASHBOARDS_DIR,
    OPSIGHT_CLICKHOUSE_HOST: i.host ?? u.hostname.replace(/^\[|\]$/g, ''),
    OPSIGHT_CLICKHOUSE_PORT: port,
    OPSIGHT_CLICKHOUSE_PROTOCOL: 'http',
    OPSIGHT_CLICKHOUSE_SECURE: String(secure),
    OPSIGHT_CLICKHOUSE_USER: i.user,
    OPSIGHT_CLICKHOUSE_DATABASE: i.database,
    // Never printed: the user sets it from where the password is kept.
    OPSIGHT_CLICKHOUSE_PASSWORD: i.password ? '<the ClickHouse password of clickhouse.user>' : '',
  };
  const shown = new URL(i.url);
  shown.username = '';
  shown.password = '';
  return {
    plugin: PLUGIN_ID,
    provisioningDir: PROVISIONING_DIR,
    dashboardsDir: DASHBOARDS_DIR,
    clickhouse: {
      url: shown.toString().replace(/\/$/, ''),
      embedded: i.embedded,
      database: i.database,
      user: i.user,
    },
    env,
    passwordSet: i.password !== '',
    portChanges: i.embedded && !i.fixedPort,
  };
}

const quote = (v: string) => (/^[\w./:@-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

export function formatGrafanaSetup(s: GrafanaSetup): string {
  const exports = Object.entries(s.env).map(([k, v]) => `export ${k}=${quote(v)}`);
  const c = s.clickhouse;
  return [
    `ClickHouse: ${c.url} (${c.embedded ? 'embedded; up while opsight runs' : 'clickhouse.url'}), database ${c.database}, user ${c.user}`,
    ...(s.portChanges
      ? [
          'Note: the embedded server takes a free port at each start; set clickhouse.embedded.port to keep Grafana pointed at it.',
        ]
      : []),
    `Plugin: ${s.plugin} (grafana cli plugins install ${s.plugin}, or GF_INSTALL_PLUGINS for the Grafana image)`,
    `Provisioning: ${s.provisioningDir} (datasource "opsight ClickHouse" + the dashboards in ${s.dashboardsDir})`,
    '',
    '# Grafana started from this shell reads these:',
    ...exports,
    ...(s.passwordSet ? ['# replace the OPSIGHT_CLICKHOUSE_PASSWORD placeholder with the password'] : []),
    'grafana server --homepath /usr/share/grafana   # or: systemctl restart grafana-server with these in its environment',
    '',
    '# or Grafana in Docker (host network, so the loopback ClickHouse is reachable):',
    `docker run --rm --network host -v ${quote(s.dashboardsDir)}:/etc/opsight/dashboards:ro \\`,
    `  -e GF_INSTALL_PLUGINS=${s.plugin} -e GF_PATHS_PROVISIONING=/etc/opsight/dashboards/provisioning \\`,
    `  -e OPSIGHT_DASHBOARDS_DIR=/etc/opsight/dashboards \\`,
    ...Object.entries(s.env)
      .filter(([k]) => k.startsWith('OPSIGHT_CLICKHOUSE_'))
      // The password passes through from the environment rather than sitting on the command line.
      .map(([k, v]) => (k === 'OPSIGHT_CLICKHOUSE_PASSWORD' ? `  -e ${k} \\` : `  -e ${k}=${quote(v)} \\`)),
    '  grafana/grafana:12.2.0',
    '',
    'Then open http://127.0.0.1:3000, folder "opsight".',
    '',
  ].join('\n');
}

/** Resolves the ClickHouse in use as `opsight clickhouse` does; undefined when the embedded one is not running. */
export async function setupForConfig(config: Config, host?: string): Promise<GrafanaSetup | undefined> {
  const base = {
    database: config.clickhouse.database,
    user: config.clickhouse.user,
    password: config.clickhouse.password,
    ...(host ? { host } : {}),
  };
  if (config.clickhouse.url) return grafanaSetup({ ...base, url: config.clickhouse.url, embedded: false });
  const running = await findRunning(config.dataDir);
  return running
    ? grafanaSetup({
        ...base,
        url: running.url,
        embedded: true,
        fixedPort: config.clickhouse.embedded.port !== 0,
      })
    : undefined;
}

/** The command's action: prints the setup (text or JSON) and returns the exit code. */
export async function runGrafanaCommand(
  config: Config,
  opts: { json?: boolean; host?: string },
): Promise<number> {
  const setup = await setupForConfig(config, opts.host);
  if (!setup) {
    process.stderr.write(
      `opsight: no embedded ClickHouse is running for data directory ${config.dataDir}; run \`opsight start\` or \`opsight clickhouse --start\` first, so Grafana has a server to query\n`,
    );
    return 1;
  }
  process.stdout.write(opts.json ? `${JSON.stringify(setup, null, 2)}\n` : formatGrafanaSetup(setup));
  return 0;
}
