import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { logger } from '../log.ts';
import { freePort } from '../net.ts';
import { ensureLauncher, launcherPath } from './launcher.ts';

/**
 * The embedded ClickHouse: chdb's server run as a child process on a loopback port, data under
 * DATA_DIR/clickhouse. A pid file lets `opsight clickhouse` and other opsight processes find
 * and reuse it; a stale pid file (after a crash) is detected and the server replaced. The
 * child dies with its parent (PR_SET_PDEATHSIG in the launcher), so nothing is orphaned.
 */

const log = logger('clickhouse.embedded');

// The trailing query never ends; it is what keeps the HTTP server up (see DESIGN.md).
const KEEPALIVE_QUERY =
  'SYSTEM START LISTEN HTTP; SELECT sleep(3) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null';

export interface EmbeddedOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  startTimeoutMs?: number;
}

interface PidFile {
  pid: number;
  port: number;
  owner: number;
  startedAt: string;
}

export interface EmbeddedClickHouse {
  url: string;
  port: number;
  pid: number;
  /** False when an already running server was reused: stop() then leaves it alone. */
  owned: boolean;
  stop(): Promise<void>;
}

export function serverDir(dataDir: string): string {
  return join(resolve(dataDir), 'clickhouse');
}

function pidFilePath(dataDir: string): string {
  return join(serverDir(dataDir), 'opsight-server.json');
}

function readPidFile(dataDir: string): PidFile | undefined {
  try {
    return JSON.parse(readFileSync(pidFilePath(dataDir), 'utf8')) as PidFile;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Only ever signal a pid that is really our launcher (pids get reused). */
function isOurServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === launcherPath;
  } catch {
    return false;
  }
}

export async function ping(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok && (await res.text()).startsWith('Ok');
  } catch {
    return false;
  }
}

/** The running embedded server of dataDir, if any (for `opsight clickhouse`). */
export async function findRunning(dataDir: string): Promise<{ url: string; pid: number } | undefined> {
  const pf = readPidFile(dataDir);
  if (!pf || !alive(pf.pid) || !isOurServer(pf.pid)) return undefined;
  const url = `http://127.0.0.1:${pf.port}`;
  // The process is ours and alive: a slow answer is a busy server, not an absent one.
  for (let attempt = 0; attempt < 5; attempt++) if (await ping(url, 2000)) return { url, pid: pf.pid };
  return undefined;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedClickHouse> {
  const dir = serverDir(options.dataDir);
  mkdirSync(dir, { recursive: true });

  const existing = readPidFile(options.dataDir);
  if (existing && alive(existing.pid) && isOurServer(existing.pid)) {
    const url = `http://127.0.0.1:${existing.port}`;
    for (let i = 0; i < 20; i++) {
      if (await ping(url)) {
        log.info(
          { url, pid: existing.pid },
          'reusing the embedded ClickHouse already running on this data directory',
        );
        return { url, port: existing.port, pid: existing.pid, owned: false, stop: async () => {} };
      }
      await sleep(250);
    }
    log.warn({ pid: existing.pid }, 'embedded ClickHouse does not answer /ping; replacing it');
    process.kill(existing.pid, 'SIGKILL');
    await waitGone(existing.pid, 5000);
  }
  if (existing) rmSync(pidFilePath(options.dataDir), { force: true });

  const binary = ensureLauncher();
  const port = options.port || existing?.port || (await freePort());
  // Rewritten after every (re)start so other processes always find the live pid.
  const writePid = (pid: number) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      pidFilePath(options.dataDir),
      JSON.stringify({
        pid,
        port,
        owner: process.pid,
        startedAt: new Date().toISOString(),
      } satisfies PidFile),
    );
  };
  const server = new Supervisor(binary, dir, port, options.startTimeoutMs ?? 30_000, writePid);
  await server.start();
  const url = `http://127.0.0.1:${port}`;
  log.info({ url, pid: server.pid, dataDir: dir }, 'embedded ClickHouse started');
  return {
    url,
    port,
    get pid() {
      return server.pid;
    },
    owned: true,
    stop: async () => {
      await server.stop();
      const pf = readPidFile(options.dataDir);
      if (pf && pf.owner === process.pid) rmSync(pidFilePath(options.dataDir), { force: true });
    },
  };
}

/** Keeps one server process up: restarts it if it ends while we did not ask it to. */
class Supervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;

  constructor(
    private readonly binary: string,
    private readonly dir: string,
    private readonly port: number,
    private readonly timeoutMs: number,
    private readonly onStarted: (pid: number) => void,
  ) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  async start(): Promise<void> {
    const logFd = openSync(join(this.dir, 'server.log'), 'a');
    const child = spawn(
      this.binary,
      [`--path=${this.dir}`, `--http_port=${this.port}`, '--listen_host=127.0.0.1', '-q', KEEPALIVE_QUERY],
      {
        cwd: this.dir,
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, OPSIGHT_PARENT_PID: String(process.pid) },
      },
    );
    closeSync(logFd);
    this.child = child;
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      if (this.stopping || this.child !== child) return;
      log.error({ code, signal }, 'embedded ClickHouse exited; restarting');
      void this.restart();
    });
    const url = `http://127.0.0.1:${this.port}`;
    const until = Date.now() + this.timeoutMs;
    while (Date.now() < until) {
      if (await ping(url, 500)) {
        this.onStarted(child.pid!);
        return;
      }
      if (exited) break;
      await sleep(100);
    }
    const tail = this.logTail();
    if (!exited) child.kill('SIGKILL');
    throw new Error(
      `embedded ClickHouse did not answer ${url}/ping${exited ? ' (the server exited)' : ` within ${this.timeoutMs} ms`}` +
        (tail ? `; server.log ends with:\n${tail}` : ''),
    );
  }

  private async restart(): Promise<void> {
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts++, 6));
    await sleep(delay);
    if (this.stopping) return;
    try {
      await this.start();
      this.restarts = 0;
    } catch (err) {
      log.error({ err: (err as Error).message }, 'embedded ClickHouse restart failed');
      if (!this.stopping) void this.restart();
    }
  }

  private logTail(): string {
    const file = join(this.dir, 'server.log');
    if (!existsSync(file)) return '';
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }
}
