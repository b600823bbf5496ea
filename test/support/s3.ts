import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../../core/net.ts';

/**
 * A real S3-compatible server for tests: MinIO, built once by scripts/minio/install.sh, run as
 * a child on a free loopback port with its data in a temp directory. stop() and start() again
 * bring it back on the same port and data, as a restarted server would. The process dies with
 * the test process (PR_SET_PDEATHSIG through setpriv, plus an exit hook).
 */

const run = promisify(execFile);
const installScript = fileURLToPath(new URL('../../scripts/minio/install.sh', import.meta.url));

export const S3_ACCESS_KEY = 'opsight-test';
export const S3_SECRET_KEY = 'opsight-test-secret';

export interface S3Server {
  endpoint: string;
  port: number;
  running: boolean;
  /** SIGKILL, as a crash or a network cut would look to a client; keeps the data. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Kills it and removes its data. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

/** Runs install.sh (instant once built) and returns the minio binary. */
export async function minioBinary(): Promise<string> {
  if (process.env.OPSIGHT_MINIO_BIN) return process.env.OPSIGHT_MINIO_BIN;
  try {
    const { stdout } = await run('bash', [installScript], { timeout: 30 * 60_000, maxBuffer: 16 << 20 });
    return stdout.trim().split('\n').at(-1)!;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/minio/install.sh failed: ${e.stderr || e.message}`);
  }
}

async function live200(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export async function startS3Server(): Promise<S3Server> {
  const binary = await minioBinary();
  const dir = mkdtempSync(join(tmpdir(), 'opsight-minio-'));
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  const consolePort = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'minio.log');
  let child: ChildProcess | undefined;
  if (!hooked) {
    hooked = true;
    process.on('exit', () => live.forEach((c) => c.kill('SIGKILL')));
  }

  const server: S3Server = {
    endpoint,
    port,
    running: false,
    async start() {
      const out = openSync(logFile, 'a');
      child = spawn(
        'setpriv',
        [
          '--pdeathsig',
          'KILL',
          '--',
          binary,
          'server',
          join(dir, 'data'),
          '--address',
          `127.0.0.1:${port}`,
          '--console-address',
          `127.0.0.1:${consolePort}`,
          '--quiet',
        ],
        {
          stdio: ['ignore', out, out],
          env: {
            PATH: process.env.PATH,
            HOME: dir,
            MINIO_ROOT_USER: S3_ACCESS_KEY,
            MINIO_ROOT_PASSWORD: S3_SECRET_KEY,
            MINIO_BROWSER: 'off',
            MINIO_UPDATE: 'off',
          },
        },
      );
      closeSync(out);
      live.add(child);
      const c = child;
      let exited = false;
      c.once('exit', () => {
        exited = true;
        live.delete(c);
      });
      const until = Date.now() + 60_000;
      while (!(await live200(`${endpoint}/minio/health/ready`))) {
        if (exited || Date.now() > until) {
          const log = readFileSync(logFile, 'utf8').slice(-2000);
          throw new Error(`MinIO did not start on ${endpoint}: ${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      server.running = true;
    },
    async kill() {
      const c = child;
      server.running = false;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
    async stop() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
