/**
 * Log template mining throughput: the 8 Loghub-2k dev systems' messages (Content, split off
 * with each system's log_format), repeated to about --lines lines, mined by one TemplateMiner
 * per system with the benchmark's masking patterns. Baseline, in the same run: split on
 * whitespace and look the joined tokens up in a Map (an exact-match "miner" with no masking).
 *
 *   npx tsx bench/detect-logs.ts [--dir ../shared/data/loghub] [--lines 1000000]
 */
import { parseArgs } from 'node:util';
import { TemplateMiner } from '../core/logs/drain.ts';
import { splitWhitespace } from '../core/logs/mask.ts';
import { loadSystem, readFormats } from '../eval/loghub/dataset.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '../shared/data/loghub' },
    lines: { type: 'string', default: '1000000' },
  },
});
const target = Number(values.lines);
const formats = readFormats(values.dir);
const systems = Object.keys(formats)
  .filter((s) => {
    try {
      loadSystem(values.dir, s, formats[s]!);
      return true;
    } catch {
      return false;
    }
  })
  .map((s) => loadSystem(values.dir, s, formats[s]!));
const perSystem = Math.ceil(target / systems.length);
// Repetition of each system's 2000 lines, as a long-running stream of that system would be.
const streams = systems.map((s) => ({
  patterns: s.patterns,
  lines: Array.from({ length: perSystem }, (_, i) => s.contents[i % s.contents.length]!),
}));
const total = streams.reduce((a, s) => a + s.lines.length, 0);

/** Wall and CPU seconds of run: on a loaded machine the CPU time is the fairer per-core figure. */
function time(run: () => void): { wall: number; cpu: number } {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  run();
  const c = process.cpuUsage(c0);
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (c.user + c.system) / 1e6 };
}

let sink = 0;
const baseline = time(() => {
  for (const s of streams) {
    const seen = new Map<string, number>();
    for (const line of s.lines) {
      const key = splitWhitespace(line).join(' ');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    sink += seen.size;
  }
});
let templates = 0;
const mining = time(() => {
  for (const s of streams) {
    const miner = new TemplateMiner({ extraPatterns: s.patterns });
    for (const line of s.lines) sink += miner.add(line).params.length;
    templates += miner.size;
  }
});

const rate = (sec: number) => Math.round(total / sec);
const mb = Math.round(process.resourceUsage().maxRSS / 1024);
const row = (what: string, t: { wall: number; cpu: number }) =>
  console.log(
    `${what.padEnd(36)} ${String(rate(t.wall)).padStart(10)} ${String(rate(t.cpu)).padStart(12)} ${t.wall.toFixed(2).padStart(8)}`,
  );
console.log(
  `lines: ${total} (${systems.length} systems x ${perSystem}), templates: ${templates}, sink ${sink}`,
);
console.log(
  `${'what'.padEnd(36)} ${'lines/s'.padStart(10)} ${'lines/cpu-s'.padStart(12)} ${'wall s'.padStart(8)}`,
);
row('baseline (split + Map lookup)', baseline);
row('TemplateMiner (mask, tree, params)', mining);
console.log(
  `mining rate / baseline rate: ${(baseline.wall / mining.wall).toFixed(2)} (wall), ${(baseline.cpu / mining.cpu).toFixed(2)} (cpu)`,
);
console.log(`peak RSS: ${mb} MB`);
