import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** `npm run eval:cost -- --json --seed N` as a user runs it: the last stdout line is the result. */

const run = promisify(execFile);

describe('eval:cost', () => {
  it('prints the result as JSON on its last line and meets the target on a seed', async () => {
    const { stdout } = await run('npx', ['tsx', 'eval/cost.ts', '--json', '--seed', '41'], {
      cwd: process.cwd(),
      maxBuffer: 1 << 20,
    });
    const lines = stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
    expect(Object.keys(result)).toEqual([
      'series_months',
      'injected',
      'recall',
      'false_alerts_per_100_series_months',
    ]);
    expect(result.series_months).toBeGreaterThan(1000);
    expect(result.injected).toBeGreaterThan(500);
    expect(result.recall).toBeGreaterThanOrEqual(0.9);
    expect(result.false_alerts_per_100_series_months).toBeLessThanOrEqual(1);
    // The human-readable lines come first.
    expect(lines[0]).toMatch(/^cost spikes: seed 41, \d+ series/);
  });
});
