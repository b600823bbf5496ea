import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * `opsight start --role ...` as a real child process, the way deploy/compose.yaml runs it: the
 * installed command (bin/opsight.js), configured through the environment and a config file,
 * listening on a free loopback port that it prints in its banner.
 */

const bin = join(process.cwd(), 'bin/opsight.js');

export interface OpsightProcess {
  role: string;
  /** http://127.0.0.1:PORT */
  http: string;
  child: ChildProcess;
  /** Everything it wrote on stderr (JSON log lines). */
  stderr(): string;
  /** SIGTERM (drain and stop); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash or an OOM kill would; resolves once it is gone. */
  kill(): Promise<void>;
}

/** The environment without anything that would point opsight at other servers. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CLICKHOUSE_|KAFKA_|OPSIGHT_|OTEL_)/.test(k)) delete env[k];
  return { ...env, OPSIGHT_LOG_LEVEL: 'warn', OPSIGHT_HTTP_ADDR: '127.0.0.1:0', ...extra };
}

export async function startOpsight(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  startTimeoutMs = 90_000,
): Promise<OpsightProcess> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const banner = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`opsight ${args.join(' ')} did not start within ${startTimeoutMs} ms: ${stderr}`));
    }, startTimeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`opsight ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
  const http = /HTTP on (http:\/\/[\d.:]+)/.exec(banner)?.[1];
  if (!http) throw new Error(`no HTTP address in the banner: ${banner}`);
  const role = args[args.indexOf('--role') + 1] ?? 'all';
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    role,
    http,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (!gone()) child.kill('SIGTERM');
      await exited;
      return child.exitCode;
    },
    kill: async () => {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls fn until ok(value) holds, failing after ms with the last value seen. */
export async function until<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 120_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}
