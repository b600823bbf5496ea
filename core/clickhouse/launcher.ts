import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Builds the tiny native launcher for the embedded ClickHouse (core/clickhouse/native/launcher.c)
 * against chdb's libchdb.so. Run at install (scripts/build-launcher.mjs) and again lazily at
 * start if the binary is missing or was built against another libchdb.
 */

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'native', 'launcher.c');
const buildDir = join(here, 'native', 'build');
export const launcherPath = join(buildDir, 'opsight-clickhouse');

export class LauncherError extends Error {}

export function libchdbDir(): string {
  const pkg = arch() === 'arm64' ? '@chdb/lib-linux-arm64-gnu' : '@chdb/lib-linux-x64-gnu';
  const require = createRequire(import.meta.url);
  try {
    const dir = dirname(require.resolve(`${pkg}/package.json`));
    if (!existsSync(join(dir, 'libchdb.so'))) throw new Error('libchdb.so missing');
    return dir;
  } catch (err) {
    throw new LauncherError(
      `the embedded ClickHouse needs ${pkg} (installed with the chdb package): ${(err as Error).message}. ` +
        'Run npm ci, or set CLICKHOUSE_URL to use an existing ClickHouse server.',
    );
  }
}

export function ensureLauncher(options: { outPath?: string; cc?: string } = {}): string {
  const out = options.outPath ?? launcherPath;
  const lib = libchdbDir();
  const stamp = `${out}.lib`;
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === lib) return out;
  mkdirSync(dirname(out), { recursive: true });
  const cc = options.cc ?? process.env.CC ?? 'cc';
  try {
    execFileSync(cc, ['-O2', '-o', out, source, `-L${lib}`, '-l:libchdb.so', `-Wl,-rpath,${lib}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    const why =
      e.code === 'ENOENT' ? `no C compiler found (${cc})` : (e.stderr?.toString().trim() ?? e.message);
    throw new LauncherError(
      `cannot build the embedded ClickHouse launcher: ${why}. ` +
        'Install a C compiler (e.g. apt-get install gcc) or set CLICKHOUSE_URL to use an existing ClickHouse server.',
    );
  }
  writeFileSync(stamp, lib);
  return out;
}
