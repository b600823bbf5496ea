import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSystem, readFormats } from '../../eval/loghub/dataset.ts';
import { score } from '../../eval/loghub/metrics.ts';
import { evaluateSystem } from '../../eval/loghub/run.ts';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const LOGHUB = join(ROOT, '../shared/data/loghub');
const SYSTEMS = ['HDFS', 'Zookeeper'];

/** A Loghub-layout directory holding only some systems (the data files are linked, not copied). */
function subset(dir: string, systems: string[]): void {
  const formats = JSON.parse(readFileSync(join(LOGHUB, 'formats.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(
    join(dir, 'formats.json'),
    JSON.stringify(Object.fromEntries(systems.map((s) => [s, formats[s]]))),
  );
  for (const s of systems) {
    mkdirSync(join(dir, s));
    for (const suffix of ['.log', '.log_structured.csv', '.log_templates.csv'])
      symlinkSync(join(LOGHUB, s, `${s}_2k${suffix}`), join(dir, s, `${s}_2k${suffix}`));
  }
}

const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(ROOT, 'eval/loghub.ts'), ...args], { cwd: ROOT });

describe('loghub metrics', () => {
  it('scores GA per line, FGA per group and PA on normalised text', () => {
    // Truth: {0,1} A, {2} B, {3} C. Prediction: {0,1} right, {2,3} merged.
    const s = score(
      ['A', 'A', 'B', 'C'],
      ['x', 'x', 'y', 'y'],
      ['a <*>', 'a <*>', 'b', 'c'],
      ['a  <*><*>', 'a <*>', 'b', 'b'],
    );
    expect(s.grouping_accuracy).toBe(0.5);
    // precision 1/2, recall 1/3
    expect(s.f1_group).toBeCloseTo((2 * 0.5 * (1 / 3)) / (0.5 + 1 / 3), 10);
    expect(s.parsing_accuracy).toBe(0.75);
  });
});

describe('npm run eval:loghub', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'opsight-loghub-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints per-system scores and a last JSON line for a 2-system subset', async () => {
    const d = join(dir, 'subset');
    mkdirSync(d);
    subset(d, SYSTEMS);
    const { stdout } = await cli(d, '--json');
    const lines = stdout.trim().split('\n');
    const json = JSON.parse(lines[lines.length - 1]!) as {
      systems: Record<string, { grouping_accuracy: number; f1_group: number; parsing_accuracy: number }>;
      average: { grouping_accuracy: number; f1_group: number; parsing_accuracy: number };
    };
    expect(Object.keys(json.systems).sort()).toEqual([...SYSTEMS].sort());
    const formats = readFormats(LOGHUB);
    for (const s of SYSTEMS) {
      const expected = evaluateSystem(loadSystem(LOGHUB, s, formats[s]!));
      expect(json.systems[s]!.grouping_accuracy).toBeCloseTo(expected.grouping_accuracy, 12);
      expect(json.systems[s]!.f1_group).toBeCloseTo(expected.f1_group, 12);
      expect(json.systems[s]!.parsing_accuracy).toBeCloseTo(expected.parsing_accuracy, 12);
      expect(json.systems[s]!.grouping_accuracy).toBeGreaterThan(0.98);
    }
    const mean = SYSTEMS.reduce((a, s) => a + json.systems[s]!.grouping_accuracy, 0) / SYSTEMS.length;
    expect(json.average.grouping_accuracy).toBeCloseTo(mean, 12);
    expect(stdout).toMatch(/^HDFS\s+[01]\.\d{4}\s/m);
  });

  it('names the file and line of a line that does not match log_format', async () => {
    const d = join(dir, 'broken');
    mkdirSync(join(d, 'Toy'), { recursive: true });
    writeFileSync(
      join(d, 'formats.json'),
      JSON.stringify({ Toy: { log_format: '<Date> <Level>: <Content>', regex: [] } }),
    );
    writeFileSync(join(d, 'Toy', 'Toy_2k.log'), '2024 INFO: started\nno colon here\n');
    writeFileSync(
      join(d, 'Toy', 'Toy_2k.log_structured.csv'),
      'LineId,Date,Level,Content,EventId,EventTemplate\n',
    );
    const err = await cli(d).then(
      () => undefined,
      (e: { stderr: string; code: number }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(`${join(d, 'Toy', 'Toy_2k.log')}:2: line does not match log_format`);
  });
});
