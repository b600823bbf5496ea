import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLauncher, LauncherError } from '../../core/clickhouse/launcher.ts';

const dir = mkdtempSync(join(tmpdir(), 'opsight-launcher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded ClickHouse launcher build', () => {
  it('compiles against libchdb.so and reuses the binary afterwards', () => {
    const out = join(dir, 'ok', 'opsight-clickhouse');
    expect(ensureLauncher({ outPath: out })).toBe(out);
    expect(existsSync(out)).toBe(true);
    // Built once: a missing compiler no longer matters.
    expect(ensureLauncher({ outPath: out, cc: '/nonexistent/cc' })).toBe(out);
  });

  it('tells the user to install a C compiler or set CLICKHOUSE_URL when it cannot build', () => {
    const out = join(dir, 'nocc', 'opsight-clickhouse');
    let err: unknown;
    try {
      ensureLauncher({ outPath: out, cc: '/nonexistent/cc' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LauncherError);
    expect((err as Error).message).toContain('no C compiler found (/nonexistent/cc)');
    expect((err as Error).message).toContain('Install a C compiler');
    expect((err as Error).message).toContain('CLICKHOUSE_URL');
  });
});
