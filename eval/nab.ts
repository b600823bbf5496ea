/**
 * npm run eval:nab -- DIR [--json]
 *
 * Runs the anomaly core (detect/metrics, default configuration) over a NAB-layout directory
 * (DIR/data/<category>/<name>.csv, DIR/labels/combined_windows.json) and prints the NAB score per
 * profile, computed by the project's NAB scorer. With --json the last stdout line is
 * {"files": N, "profiles": {"standard": S, "reward_low_FP_rate": S, "reward_low_FN_rate": S}}.
 */
import { scoreSeries } from '../detect/metrics/index.ts';
import { loadNabDir, NabInputError } from './nab/corpus.ts';
import { loadProfiles } from './nab/profiles.ts';
import { scoreCorpus } from './nab/scorer.ts';

function main(argv: string[]): number {
  const json = argv.includes('--json');
  const dirs = argv.filter((a) => a !== '--json');
  if (dirs.length !== 1 || dirs[0]!.startsWith('-')) {
    process.stderr.write('usage: npm run eval:nab -- DIR [--json]\n');
    return 2;
  }
  const dir = dirs[0]!;
  const started = performance.now();
  const files = loadNabDir(dir);
  const profiles = loadProfiles(dir);
  let points = 0;
  const detectStart = performance.now();
  const scored = files.map((f) => {
    points += f.values.length;
    return { key: f.key, windows: f.windows, scores: scoreSeries(f.timestamps, f.values).score };
  });
  const detectMs = performance.now() - detectStart;
  const results = scoreCorpus(scored, profiles);
  const windows = Object.values(results)[0]?.windows ?? 0;
  console.log(
    `NAB score of the opsight anomaly core on ${dir}: ${files.length} files, ${points} points, ${windows} windows`,
  );
  console.log('profile               score   threshold        raw   (null raw, perfect)');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(20)} ${r.normalized.toFixed(2).padStart(6)}   ${r.threshold.toFixed(6)}   ${r.raw.toFixed(3).padStart(8)}   (${r.nullRaw}, ${r.perfect})`,
    );
  }
  console.log(
    `detector ${(points / (detectMs / 1000) / 1e6).toFixed(2)}M points/s; total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  if (json) {
    // Spaced like the documented line: {"files": N, "profiles": {"standard": S, ...}}.
    const parts = Object.entries(results).map(
      ([name, r]) => `${JSON.stringify(name)}: ${Number(r.normalized.toFixed(4))}`,
    );
    console.log(`{"files": ${files.length}, "profiles": {${parts.join(', ')}}}`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (err instanceof NabInputError) {
    process.stderr.write(`eval:nab: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
