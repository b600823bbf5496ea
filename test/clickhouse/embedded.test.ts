import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRunning, ping, serverDir, startEmbedded } from '../../core/clickhouse/embedded.ts';

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'opsight-embedded-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

async function query(url: string, sql: string): Promise<string> {
  const res = await fetch(`${url}/?query=${encodeURIComponent(sql)}`, { method: 'POST' });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text.trim();
}

describe('embedded ClickHouse', () => {
  it('keeps its data across restarts and leaves no process behind', async () => {
    const dir = dataDir();
    const first = await startEmbedded({ dataDir: dir });
    expect(first.owned).toBe(true);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await query(first.url, 'CREATE TABLE default.kept (x UInt32) ENGINE = MergeTree ORDER BY x');
    await query(first.url, 'INSERT INTO default.kept VALUES (1), (2), (3)');
    const pid = first.pid;
    await first.stop();
    expect(alive(pid)).toBe(false);
    expect(await findRunning(dir)).toBeUndefined();

    const second = await startEmbedded({ dataDir: dir });
    expect(await query(second.url, 'SELECT sum(x) FROM default.kept')).toBe('6');
    await second.stop();
    expect(alive(second.pid)).toBe(false);
  });

  it('reuses a running server on the same data directory instead of fighting over its lock', async () => {
    const dir = dataDir();
    const owner = await startEmbedded({ dataDir: dir });
    const reuser = await startEmbedded({ dataDir: dir });
    expect(reuser.owned).toBe(false);
    expect(reuser.url).toBe(owner.url);
    expect(await findRunning(dir)).toEqual({ url: owner.url, pid: owner.pid });
    await reuser.stop(); // not the owner: leaves the server up
    expect(await ping(owner.url)).toBe(true);
    await owner.stop();
  });

  it('replaces a stale pid file left by a crash', async () => {
    const dir = dataDir();
    const first = await startEmbedded({ dataDir: dir });
    await first.stop();
    // A crash leaves the pid file behind, pointing at a pid that is gone (or reused by another program).
    const pidFile = join(serverDir(dir), 'opsight-server.json');
    writeFileSync(pidFile, JSON.stringify({ pid: process.pid, port: first.port, owner: 1, startedAt: '' }));
    const second = await startEmbedded({ dataDir: dir });
    expect(second.owned).toBe(true);
    expect(second.pid).not.toBe(process.pid);
    expect(JSON.parse(readFileSync(pidFile, 'utf8')).pid).toBe(second.pid);
    await second.stop();
    expect(existsSync(pidFile)).toBe(false);
  });

  it('dies with its parent when opsight is killed with SIGKILL', async () => {
    const dir = dataDir();
    const script = join(dir, 'parent.mts');
    writeFileSync(
      script,
      `import { startEmbedded } from ${JSON.stringify(join(process.cwd(), 'core/clickhouse/embedded.ts'))};\n` +
        `const s = await startEmbedded({ dataDir: ${JSON.stringify(dir)} });\n` +
        `process.stdout.write(JSON.stringify({ pid: s.pid, url: s.url }) + '\\n');\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      parent.stdout.once('data', (b: Buffer) => resolve(b.toString()));
      parent.once('exit', () => reject(new Error('parent exited early')));
    });
    const { pid, url } = JSON.parse(line) as { pid: number; url: string };
    expect(await ping(url)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !alive(pid));
    // The next start finds the stale pid file and starts a fresh server on the same data.
    const next = await startEmbedded({ dataDir: dir });
    expect(next.owned).toBe(true);
    await next.stop();
  });

  it('restarts the server when it stops underneath opsight', async () => {
    const dir = dataDir();
    const s = await startEmbedded({ dataDir: dir });
    const before = s.pid;
    process.kill(before, 'SIGKILL');
    await waitFor(async () => s.pid !== before && (await ping(s.url)));
    expect(await query(s.url, 'SELECT 1')).toBe('1');
    await waitFor(async () => (await findRunning(dir))?.pid === s.pid);
    await s.stop();
  });
});
