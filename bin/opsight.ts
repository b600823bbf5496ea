import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { findRunning, startEmbedded } from '../core/clickhouse/embedded.ts';
import { LauncherError } from '../core/clickhouse/launcher.ts';
import { ConfigError, loadConfig, maskSecrets, type LoadedConfig } from '../core/config/load.ts';
import { setLogLevel } from '../core/log.ts';
import { ROLE_NAMES, type RoleName, type RoleStarter } from '../core/role.ts';
import type { SourceState } from '../ingest/source.ts';

/**
 * The `opsight` command: parses arguments and calls into core/ and the role folders. Heavy
 * modules (Kafka, express, the roles) load inside the commands that use them, so quick
 * commands such as `config check` answer at once.
 */

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const starters: Record<RoleName, RoleStarter> = {
  ingest: async (ctx) => (await import('../ingest/role.ts')).startIngestRole(ctx),
  detect: async (ctx) => (await import('../detect/role.ts')).startDetectRole(ctx),
  correlate: async (ctx) => (await import('../correlate/role.ts')).startCorrelateRole(ctx),
};

function load(cmd: Command): LoadedConfig {
  const opts = cmd.optsWithGlobals<{ config?: string }>();
  const loaded = loadConfig({ file: opts.config });
  setLogLevel(loaded.config.log.level);
  return loaded;
}

const program = new Command()
  .name('opsight')
  .description(
    'Observability and AIOps pipeline: metrics, logs and billing into ClickHouse, detectors, incidents.',
  )
  .option('-c, --config <file>', 'YAML config file (default: ./opsight.yaml if present)')
  .showHelpAfterError();

program
  .command('start')
  .description('run the pipeline: every role in one process, or the roles named with --role')
  .addOption(new Option('-r, --role <role...>', 'roles to run in this process').choices([...ROLE_NAMES]))
  .action(async (opts: { role?: RoleName[] }, cmd: Command) => {
    const { config } = load(cmd);
    const roles = opts.role ?? [...ROLE_NAMES];
    const { startRuntime } = await import('../core/runtime.ts');
    const runtime = await startRuntime(config, starters, roles);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`opsight: ${signal}, draining and stopping\n`);
      runtime.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`opsight: error while stopping: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.stdout.write(
      `opsight ${pkg.version} running (${roles.join(', ')}): HTTP on http://${runtime.httpAddress}, ClickHouse at ${runtime.clickhouseUrl}, bus ${runtime.bus.kind}\n`,
    );
  });

program
  .command('migrate')
  .description('apply pending schema migrations (they also run at start)')
  .option('--print', 'print the DDL for the configured mode (single node or cluster) instead of applying it')
  .action(async (opts: { print?: boolean }, cmd: Command) => {
    const { config } = load(cmd);
    const schemaOptions = {
      database: config.clickhouse.database,
      cluster: config.clickhouse.cluster,
      ttlDays: config.clickhouse.ttlDays,
    };
    const { generateDdl, migrate } = await import('../core/clickhouse/migrate.ts');
    const { connect, targetFromConfig } = await import('../core/clickhouse/client.ts');
    if (opts.print) {
      process.stdout.write(
        generateDdl(schemaOptions)
          .map((s) => `${s};\n`)
          .join('\n'),
      );
      return;
    }
    let url = config.clickhouse.url;
    const embedded = url ? undefined : await startEmbedded({ dataDir: config.dataDir });
    url ??= embedded!.url;
    try {
      const { applied, skipped } = await migrate(
        connect(targetFromConfig(config, url), false),
        schemaOptions,
      );
      process.stdout.write(
        applied.length
          ? `applied ${applied.length} migration(s): ${applied.join(', ')} (${skipped.length} already applied)\n`
          : `schema is up to date (${skipped.length} migrations applied earlier)\n`,
      );
    } finally {
      await embedded?.stop();
    }
  });

program
  .command('clickhouse')
  .description('print the URL of the ClickHouse opsight uses (for Grafana or clickhouse-client)')
  .option('--start', 'start the embedded server if none is running, and keep it up until interrupted')
  .action(async (opts: { start?: boolean }, cmd: Command) => {
    const { config } = load(cmd);
    if (config.clickhouse.url) {
      process.stdout.write(`${maskSecrets(config.clickhouse.url, 'url') as string}\n`);
      return;
    }
    const running = await findRunning(config.dataDir);
    if (running) {
      process.stdout.write(`${running.url}\n`);
      return;
    }
    if (!opts.start) {
      process.stderr.write(
        `opsight: no embedded ClickHouse is running for data directory ${config.dataDir}; run \`opsight start\` or \`opsight clickhouse --start\`\n`,
      );
      process.exitCode = 1;
      return;
    }
    const server = await startEmbedded({ dataDir: config.dataDir, port: config.clickhouse.embedded.port });
    process.stdout.write(`${server.url}\n`);
    const stop = () => void server.stop().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program
  .command('grafana')
  .description(
    'print what to point Grafana at: provisioning directory, ClickHouse plugin and datasource settings',
  )
  .option('--json', 'print the settings as JSON')
  .option('--host <host>', 'the host name Grafana reaches ClickHouse by (default: the one opsight uses)')
  .action(async (opts: { json?: boolean; host?: string }, cmd: Command) => {
    const { runGrafanaCommand } = await import('./grafana.ts');
    process.exitCode = await runGrafanaCommand(load(cmd).config, opts);
  });

program
  .command('sources')
  .description(
    'show each ingest source of the running opsight: received, accepted, rejected, last error, lag',
  )
  .option('--token <token>', 'API token with the read scope (or OPSIGHT_TOKEN)')
  .action(async (opts: { token?: string }, cmd: Command) => {
    const { config } = load(cmd);
    const host = config.http.addr.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
    const token = opts.token ?? process.env.OPSIGHT_TOKEN;
    let res: Response;
    try {
      res = await fetch(`http://${host}/api/v1/sources`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      process.stderr.write(
        `opsight: no opsight answers on http://${host} (${(err as Error).message}); is \`opsight start\` running?\n`,
      );
      process.exitCode = 1;
      return;
    }
    if (!res.ok) {
      process.stderr.write(
        `opsight: http://${host}/api/v1/sources answered ${res.status}: ${await res.text()}\n`,
      );
      process.exitCode = 1;
      return;
    }
    const { sources } = (await res.json()) as { sources: SourceState[] };
    process.stdout.write(formatSources(sources));
  });

function formatSources(sources: SourceState[]): string {
  if (sources.length === 0) return 'no sources configured (only the /api/v1/records API)\n';
  const rows = [
    ['source', 'kind', 'received', 'accepted', 'rejected', 'lag s', 'last error'],
    ...sources.map((s) => [
      s.name,
      s.kind,
      String(s.received),
      String(s.accepted),
      String(s.rejected),
      s.lagSeconds === undefined ? '-' : s.lagSeconds.toFixed(1),
      s.lastError ? `${s.lastError.at} ${s.lastError.message}` : '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') +
    '\n'
  );
}

const ingestCmd = program.command('ingest').description('load data from outside the running sources');
ingestCmd
  .command('file')
  .description(
    'load one file once (metrics, logs or billing; detected when not given) and print rows accepted/rejected',
  )
  .argument('<path>', 'the file')
  .addOption(new Option('--kind <kind>', 'what the file holds').choices(['metrics', 'logs', 'billing']))
  .option(
    '--format <format>',
    'billing: auto|focus|aws-cur|azure|gcp|oci; logs: jsonl|text|otlp; metrics: prometheus|openmetrics|otlp',
  )
  .option(
    '--service <name>',
    'service.name of text log lines and exposition samples (default: the file name)',
  )
  .option('--force', 'load even if the same content was loaded before')
  .action(
    async (
      path: string,
      opts: { kind?: string; format?: string; service?: string; force?: boolean },
      cmd: Command,
    ) => {
      const { config } = load(cmd);
      const { runIngestFile } = await import('../ingest/file/cli.ts');
      process.exitCode = await runIngestFile(config, { path, ...opts });
    },
  );

const cmdbCmd = program.command('cmdb').description('the configuration management database');
cmdbCmd
  .command('import')
  .description(
    'import a CMDB export (ServiceNow JSON, CSV, Backstage catalog-info.yaml); it replaces what the same source imported before',
  )
  .argument('<file>', 'the export file')
  .addOption(
    new Option('--format <format>', 'default: from the extension and content').choices([
      'servicenow',
      'csv',
      'backstage',
    ]),
  )
  .option('--source <name>', 'the source this file is the truth for (default: the format)')
  .action(async (file: string, opts: { format?: string; source?: string }, cmd: Command) => {
    const { config } = load(cmd);
    const { runImport } = await import('../correlate/cli/run.ts');
    process.exitCode = await runImport(config, 'cmdb', file, opts);
  });

program
  .command('changes')
  .description('change and deployment events')
  .command('import')
  .description('import a ServiceNow change_request export (JSON)')
  .argument('<file>', 'the export file')
  .option('--source <name>', "stored as the changes' source (default: servicenow)")
  .action(async (file: string, opts: { source?: string }, cmd: Command) => {
    const { config } = load(cmd);
    const { runImport } = await import('../correlate/cli/run.ts');
    process.exitCode = await runImport(config, 'changes', file, opts);
  });

program
  .command('kedb')
  .description('the known-error database')
  .command('import')
  .description(
    'import known errors (YAML list, or a ServiceNow problem / kb_knowledge JSON export); replaces the same source',
  )
  .argument('<file>', 'the file')
  .addOption(new Option('--format <format>', 'default: detected').choices(['yaml', 'servicenow']))
  .option('--source <name>', 'the source this file is the truth for (default: the format)')
  .action(async (file: string, opts: { format?: string; source?: string }, cmd: Command) => {
    const { config } = load(cmd);
    const { runImport } = await import('../correlate/cli/run.ts');
    process.exitCode = await runImport(config, 'kedb', file, opts);
  });

program
  .command('incidents')
  .description('list incidents with their triage (default: open and acknowledged)')
  .option('--status <list>', 'open,acknowledged,resolved')
  .option('--priority <list>', 'e.g. P1,P2')
  .option('--service <name>', 'incidents whose root cause or affected CIs include it')
  .option('--limit <n>', 'at most this many', '50')
  .option('--json', 'print JSON')
  .action(
    async (
      opts: { status?: string; priority?: string; service?: string; limit?: string; json?: boolean },
      cmd: Command,
    ) => {
      const { config } = load(cmd);
      const { runIncidents } = await import('../correlate/cli/incidents.ts');
      process.exitCode = await runIncidents(config, opts);
    },
  );

program
  .command('demo')
  .description(
    'run the pipeline on a simulated shop: a day of telemetry and billing, then a database outage, a memory leak and a cost spike; prints the incidents',
  )
  .option('--speed <n>', 'simulated seconds per wall second while replaying history', '3600')
  .option('--seed <n>', 'random seed (same seed, same data)', '1')
  .option('--hours <n>', 'hours of metrics and logs before the faults', '24')
  .option('--reset', 'replace the database even if it holds data that is not from a demo')
  .option('--keep-running', 'keep the pipeline (HTTP API, ClickHouse) up afterwards until Ctrl-C')
  .action(async (opts: Parameters<typeof import('../demo/cli.ts').runDemoCommand>[1], cmd: Command) => {
    const { config } = load(cmd);
    if (config.log.level === 'info') setLogLevel('warn');
    const { runDemoCommand } = await import('../demo/cli.ts');
    process.exitCode = await runDemoCommand(config, opts);
  });

const detectCmd = program.command('detect').description('run the detectors outside the running pipeline');
detectCmd
  .command('backfill')
  .description("score a metric's stored history with the anomaly core: where it would have fired")
  .requiredOption('--metric <name>', 'MetricName in otel_metrics_gauge / otel_metrics_sum')
  .option('--service <name>', 'only this service.name')
  .option('--since <duration>', 'window ending at --to (or now): 90m, 36h, 7d, 2w', '7d')
  .option('--from <time>', 'window start, RFC 3339 or Unix seconds (instead of --since)')
  .option('--to <time>', 'window end (default now)')
  .option('--min-score <x>', 'report scores at or above this', '0.5')
  .option('--max-series <n>', 'series read at most, the longest first', '1000')
  .option('--json', 'print JSON')
  .action(async (opts: import('../detect/cli/backfill.ts').BackfillCliOptions, cmd: Command) => {
    const { config } = load(cmd);
    const { runBackfill, BackfillUsageError } = await import('../detect/cli/backfill.ts');
    try {
      process.exitCode = await runBackfill(config, opts);
    } catch (err) {
      if (!(err instanceof BackfillUsageError)) throw err;
      process.stderr.write(`opsight detect backfill: ${err.message}\n`);
      process.exitCode = 2;
    }
  });

const configCmd = program.command('config').description('inspect the configuration');
configCmd
  .command('check')
  .description('validate the configuration and print the effective values, secrets masked')
  .action(async (_opts: unknown, cmd: Command) => {
    const { config, file, fromEnv } = load(cmd);
    (await import('../core/runtime.ts')).assertSafeListen(config);
    process.stdout.write(`# configuration is valid\n# file: ${file ?? '(none; defaults)'}\n`);
    if (fromEnv.length) process.stdout.write(`# from the environment: ${fromEnv.join(', ')}\n`);
    process.stdout.write(stringify(maskSecrets(config)));
  });

program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`opsight ${pkg.version}\n`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`opsight: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof LauncherError) {
    process.stderr.write(`opsight: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`opsight: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
