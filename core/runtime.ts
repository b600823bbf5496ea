import { setTimeout as sleep } from 'node:timers/promises';
import { createBus, topicSpecs } from './bus/index.ts';
import type { Bus } from './bus/types.ts';
import { connect, targetFromConfig, type ClickHouseClient } from './clickhouse/client.ts';
import { ping, startEmbedded, type EmbeddedClickHouse } from './clickhouse/embedded.ts';
import { migrate } from './clickhouse/migrate.ts';
import { ConfigError } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { createHttpApp, parseAddr } from './http/app.ts';
import { logger } from './log.ts';
import { consumerLag } from './metrics.ts';
import type { RoleName, RoleStarter, RunningRole } from './role.ts';
import { startTelemetry, stopTelemetry } from './telemetry.ts';

/**
 * Boots one opsight process: ClickHouse (embedded or remote), schema, bus, the selected roles
 * and the HTTP server; stop() undoes it in reverse order, draining what is in flight.
 */

const log = logger('runtime');

export interface Runtime {
  clickhouseUrl: string;
  httpAddress: string;
  bus: Bus;
  clickhouse: ClickHouseClient;
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export function assertSafeListen(config: Config): void {
  const { host } = parseAddr(config.http.addr);
  if (!LOOPBACK.test(host) && config.http.tokens.length === 0 && !config.http.allowAnonymous) {
    throw new ConfigError(
      `invalid configuration:\n  http.addr = "${config.http.addr}": listening beyond loopback needs API tokens ` +
        '(http.tokens or OPSIGHT_TOKENS), or http.allowAnonymous: true if something in front authenticates',
    );
  }
}

/** A remote ClickHouse that is down at start is waited for, with backoff and a log line per try. */
async function waitForClickHouse(url: string): Promise<void> {
  for (let attempt = 0; !(await ping(url, 2000)); attempt++) {
    const delay = Math.min(10_000, 500 * 2 ** attempt);
    log.warn(
      { url: url.replace(/\/\/[^@/]*@/, '//***@'), retryInMs: delay },
      'ClickHouse unreachable, retrying',
    );
    await sleep(delay);
  }
}

export async function startRuntime(
  config: Config,
  starters: Partial<Record<RoleName, RoleStarter>>,
  roles: RoleName[],
): Promise<Runtime> {
  assertSafeListen(config);
  await startTelemetry(config.telemetry);
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) {
      await fn().catch((err: unknown) => log.error({ err }, 'error during shutdown'));
    }
    cleanups.length = 0;
  };

  try {
    let url = config.clickhouse.url;
    let embedded: EmbeddedClickHouse | undefined;
    if (!url) {
      embedded = await startEmbedded({ dataDir: config.dataDir, port: config.clickhouse.embedded.port });
      cleanups.push(() => embedded!.stop());
      url = embedded.url;
    } else {
      await waitForClickHouse(url);
    }
    const target = targetFromConfig(config, url);
    const { applied } = await migrate(connect(target, false), {
      database: config.clickhouse.database,
      cluster: config.clickhouse.cluster,
      ttlDays: config.clickhouse.ttlDays,
    });
    if (applied.length) log.info({ applied }, 'schema migrations applied');
    const clickhouse = connect(target);
    cleanups.push(() => clickhouse.close());

    const bus = createBus(config);
    cleanups.push(() => bus.close());
    await bus.ensureTopics(topicSpecs(config));

    const groups: { group: string; topic: string }[] = [];
    const http = createHttpApp({
      config,
      readiness: {
        clickhouse: () => ping(url!, 2000),
        bus: () => bus.ping(),
      },
      beforeMetrics: async () => {
        for (const { group, topic } of groups) {
          for (const l of await bus.lag(group, topic)) {
            consumerLag.set({ group, topic, partition: String(l.partition) }, l.lag);
          }
        }
      },
    });

    const running: RunningRole[] = [];
    for (const name of roles) {
      const starter = starters[name];
      if (!starter) throw new Error(`unknown role ${name}`);
      running.push(
        await starter({
          config,
          bus,
          clickhouse,
          target,
          http,
          watchLag: (g, t) => groups.push({ group: g, topic: t }),
        }),
      );
    }
    // Roles stop before the bus closes, so their in-flight batches still commit.
    cleanups.push(async () => {
      for (const r of running.reverse()) await r.stop();
    });

    const listening = await http.listen();
    cleanups.push(() => listening.close());
    log.info({ roles, clickhouse: url, bus: bus.kind, http: listening.address }, 'opsight started');

    return {
      clickhouseUrl: url,
      httpAddress: listening.address,
      bus,
      clickhouse,
      stop: async () => {
        log.info('stopping');
        await stopAll();
        await stopTelemetry();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
