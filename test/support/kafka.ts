import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../../core/net.ts';

export { freePort };

/**
 * A real single-node Kafka (KRaft, broker + controller in one JVM) for tests, from the jars that
 * scripts/kafka/install.sh caches. Each broker gets its own directory and free loopback ports, so
 * a test can run a second broker beside the shared one, stop it, and start it again on the same
 * directory and port. The JVM dies with the process that started it (PR_SET_PDEATHSIG through
 * setpriv, plus an exit hook), so no java process outlives a test run.
 */

const run = promisify(execFile);
const scriptsDir = fileURLToPath(new URL('../../scripts/kafka/', import.meta.url));

export interface StartKafkaOptions {
  /**
   * Broker directory (config, data, log). Given: kept by stop(), and a directory formatted
   * before is reused with its ports, so `startKafka({ dir })` brings a stopped broker back.
   * Not given: a temp directory that stop() removes.
   */
  dir?: string;
  /** PLAINTEXT port on 127.0.0.1; default: the port this dir used before, else a free one. */
  port?: number;
  startTimeoutMs?: number;
}

export interface KafkaBroker {
  brokers: string[];
  port: number;
  dir: string;
  /** The broker's stdout/stderr. */
  logFile: string;
  pid: number;
  /** SIGTERM, SIGKILL after 15 s; removes the directory unless the caller gave it. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would; keeps the directory. */
  kill(): Promise<void>;
}

interface PortsFile {
  port: number;
  controllerPort: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The exit hook covers normal exits; pdeathsig covers signals and crashes. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Runs install.sh (instant once the jars are cached) and returns the Kafka home. */
export async function kafkaHome(): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(scriptsDir, 'install.sh')], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 10 * 60_000,
    });
    const home = stdout.trim().split('\n').pop();
    if (!home) throw new Error('install.sh printed no Kafka home');
    return home;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`scripts/kafka/install.sh failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Kafka's own UUID format (16 random bytes, URL-safe base64); saves a JVM start for random-uuid. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka avoids ids starting with '-' so that they never look like a command-line flag.
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(dir: string, ports: PortsFile): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `listeners=PLAINTEXT://127.0.0.1:${ports.port},CONTROLLER://127.0.0.1:${ports.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `controller.quorum.voters=1@127.0.0.1:${ports.controllerPort}`,
    `log.dirs=${join(dir, 'data')}`,
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // A test's first consumer would otherwise wait 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    // After a kill, the restarted broker waits for its old session to expire (default 9 s).
    'broker.heartbeat.interval.ms=1000',
    'broker.session.timeout.ms=3000',
    '',
  ].join('\n');
}

function javaArgs(home: string, mainClass: string, args: string[]): string[] {
  return [
    '-Xmx1g',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(scriptsDir, 'log4j.properties')}`,
    `-Dlog4j2.configurationFile=${join(scriptsDir, 'log4j2.properties')}`,
    '-cp',
    `${join(home, 'lib')}/*`,
    mainClass,
    ...args,
  ];
}

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answers(broker: string): Promise<boolean> {
  const admin = new Kafka({
    brokers: [broker],
    clientId: 'opsight-test-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const home = await kafkaHome();
  const owned = !options.dir;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'opsight-kafka-'));
  mkdirSync(dir, { recursive: true });
  const portsFile = join(dir, 'ports.json');
  const previous = existsSync(portsFile)
    ? (JSON.parse(readFileSync(portsFile, 'utf8')) as PortsFile)
    : undefined;
  const ports: PortsFile = {
    port: options.port || previous?.port || (await freePort()),
    // The controller port is part of the quorum the data directory was formatted for: keep it.
    controllerPort: previous?.controllerPort || (await freePort()),
  };
  writeFileSync(portsFile, JSON.stringify(ports));
  const config = join(dir, 'server.properties');
  writeFileSync(config, serverProperties(dir, ports));
  const logFile = join(dir, 'kafka.log');

  if (!existsSync(join(dir, 'data', 'meta.properties'))) {
    try {
      await run(
        'java',
        javaArgs(home, 'kafka.tools.StorageTool', [
          'format',
          '-t',
          clusterId(),
          '-c',
          config,
          '--ignore-formatted',
        ]),
        { cwd: dir, timeout: 60_000 },
      );
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      if (owned) rmSync(dir, { recursive: true, force: true });
      throw new Error(`kafka-storage format failed: ${(e.stderr || e.stdout || e.message).trim()}`);
    }
  }

  installExitHook();
  const logFd = openSync(logFile, 'a');
  const args = javaArgs(home, 'kafka.Kafka', [config]);
  // setpriv --pdeathsig: the kernel kills the JVM if its parent dies, even by SIGKILL.
  const useSetpriv = existsSync('/usr/bin/setpriv');
  const child = spawn(
    useSetpriv ? '/usr/bin/setpriv' : 'java',
    useSetpriv ? ['--pdeathsig', 'SIGKILL', 'java', ...args] : args,
    { cwd: dir, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  live.add(child);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    });
  });
  child.once('error', () => {}); // reported through 'exit' and the log tail

  const brokerAddr = `127.0.0.1:${ports.port}`;
  const halt = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    if (!exited) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
  };

  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exited) break;
    if (await answers(brokerAddr)) {
      return {
        brokers: [brokerAddr],
        port: ports.port,
        dir,
        logFile,
        pid: child.pid ?? -1,
        stop: async () => {
          await halt('SIGTERM');
          if (owned) rmSync(dir, { recursive: true, force: true });
        },
        kill: () => halt('SIGKILL'),
      };
    }
    if (Date.now() > until) break;
    await sleep(250);
  }
  const why = exited ? 'the broker exited' : `no answer within ${timeoutMs} ms`;
  await halt('SIGKILL');
  const logTail = tail(logFile);
  if (owned) rmSync(dir, { recursive: true, force: true });
  throw new Error(`Kafka on ${brokerAddr} did not start (${why}); kafka.log ends with:\n${logTail}`);
}
