import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const NAB = resolve('../shared/data/nab');
const SUBSET = [
  'artificialWithAnomaly/art_daily_jumpsup.csv',
  'artificialNoAnomaly/art_daily_small_noise.csv',
  'realAdExchange/exchange-3_cpc_results.csv',
];
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A NAB-layout directory outside the project with a subset of the data (symlinked, not copied). */
function subsetDir(files: string[], csvOverride?: { file: string; text: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsight-nab-'));
  dirs.push(dir);
  for (const f of files) {
    mkdirSync(join(dir, 'data', f.split('/')[0]!), { recursive: true });
    if (csvOverride?.file === f) writeFileSync(join(dir, 'data', f), csvOverride.text);
    else symlinkSync(join(NAB, 'data', f), join(dir, 'data', f));
  }
  mkdirSync(join(dir, 'labels'));
  // The full label file: windows of files absent from data/ must be ignored.
  symlinkSync(join(NAB, 'labels', 'combined_windows.json'), join(dir, 'labels', 'combined_windows.json'));
  return dir;
}

function run(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'eval/nab.ts', ...args], { encoding: 'utf8' });
}

describe('npm run eval:nab', () => {
  it('scores a subset and ends with the JSON line', () => {
    const r = run(subsetDir(SUBSET), '--json');
    expect(r.status, r.stderr).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const parsed = JSON.parse(last) as { files: number; profiles: Record<string, number> };
    expect(parsed.files).toBe(3);
    expect(Object.keys(parsed.profiles).sort()).toEqual([
      'reward_low_FN_rate',
      'reward_low_FP_rate',
      'standard',
    ]);
    for (const v of Object.values(parsed.profiles)) expect(Number.isFinite(v) && v <= 100).toBe(true);
    // Four windows in the subset (1 + 0 + 3): detecting them beats the null detector.
    expect(r.stdout).toContain('4 windows');
    expect(parsed.profiles.standard!).toBeGreaterThan(0);
    expect(last).toMatch(
      /^\{"files": 3, "profiles": \{"standard": [-\d.]+, "reward_low_FP_rate": [-\d.]+, "reward_low_FN_rate": [-\d.]+\}\}$/,
    );
  });

  it('fails naming the file and line of a bad CSV row, and a missing directory', () => {
    const file = 'artificialNoAnomaly/art_daily_small_noise.csv';
    const good = readFileSync(join(NAB, 'data', file), 'utf8').split('\n');
    good[5] = '2014-04-01 00:20:00,not-a-number';
    const r = run(subsetDir([file], { file, text: good.join('\n') }), '--json');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/art_daily_small_noise\.csv:6/);
    const missing = run(join(tmpdir(), 'opsight-no-such-nab-dir'));
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no such directory/);
  });
});
