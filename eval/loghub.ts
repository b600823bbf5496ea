/**
 * Loghub-2k evaluation of the log template miner.
 *
 *   npm run eval:loghub -- DIR [--json]
 *
 * DIR holds formats.json and DIR/<System>/<System>_2k.log{,_structured.csv} for each system in
 * formats.json. Prints GA, FGA and PA per system and their average; with --json the last line of
 * stdout is {"systems": {...}, "average": {...}}.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSystem, readFormats } from './loghub/dataset.ts';
import type { Scores } from './loghub/metrics.ts';
import { evaluateSystem } from './loghub/run.ts';

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new Error('usage: npm run eval:loghub -- DIR [--json]');
  const formats = readFormats(dir);
  // Systems of formats.json absent from DIR are skipped, so a subset directory can be scored.
  const names = Object.keys(formats).filter((s) => existsSync(join(dir, s, `${s}_2k.log`)));
  if (names.length === 0)
    throw new Error(`${join(dir, 'formats.json')}: no system of it has a ${'<S>/<S>_2k.log'} in ${dir}`);
  const systems: Record<string, Scores> = {};
  const pad = (s: string, n: number) => s.padEnd(n);
  const f = (x: number) => x.toFixed(4);
  console.log(`${pad('system', 12)} ${pad('GA', 7)} ${pad('FGA', 7)} ${pad('PA', 7)} templates`);
  for (const name of names) {
    const r = evaluateSystem(loadSystem(dir, name, formats[name]!));
    systems[name] = {
      grouping_accuracy: r.grouping_accuracy,
      f1_group: r.f1_group,
      parsing_accuracy: r.parsing_accuracy,
    };
    console.log(
      `${pad(name, 12)} ${f(r.grouping_accuracy)} ${f(r.f1_group)} ${f(r.parsing_accuracy)} ${r.templates}`,
    );
  }
  const mean = (k: keyof Scores) => names.reduce((a, n) => a + systems[n]![k], 0) / names.length;
  const average: Scores = {
    grouping_accuracy: mean('grouping_accuracy'),
    f1_group: mean('f1_group'),
    parsing_accuracy: mean('parsing_accuracy'),
  };
  console.log(
    `${pad('average', 12)} ${f(average.grouping_accuracy)} ${f(average.f1_group)} ${f(average.parsing_accuracy)}`,
  );
  if (values.json) console.log(JSON.stringify({ systems, average }));
}

try {
  main();
} catch (err) {
  console.error(`eval:loghub: ${(err as Error).message}`);
  process.exit(1);
}
