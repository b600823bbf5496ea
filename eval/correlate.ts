import { parseArgs } from 'node:util';
import { runScenario, type CorrelateScores } from './correlate/run.ts';
import { buildScenario } from './correlate/scenario.ts';

/**
 * npm run eval:correlate [-- --json] [--seed N] [--scenarios K]
 * Scores the correlator on K generated scenarios (seeds N, N+1, ...) with its default
 * configuration; with --json the last line of stdout is the pooled result as one JSON object.
 */
const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    scenarios: { type: 'string', default: '5' },
  },
});
const seed = Number(values.seed);
const k = Number(values.scenarios);
if (!Number.isInteger(seed) || !Number.isInteger(k) || k < 1) {
  console.error('usage: npm run eval:correlate -- [--json] [--seed N] [--scenarios K]  (integers, K >= 1)');
  process.exit(2);
}

const results: CorrelateScores[] = [];
for (let i = 0; i < k; i++) {
  const s = buildScenario(seed + i);
  const r = runScenario(s);
  results.push(r);
  console.log(
    `seed ${seed + i}: ${s.cis.length} CIs, ${s.faults.length} faults, ${r.alerts} alert notifications -> ${r.incidents} incidents ` +
      `(compression ${r.compression}), ARI ${r.ari}, RCA top-1 ${r.rca_top1} top-3 ${r.rca_top3}, ` +
      `KEDB precision ${r.kedb_precision} recall ${r.kedb_recall}, change links ${r.change_link_accuracy}`,
  );
}
const mean = (f: (r: CorrelateScores) => number) =>
  Math.round((results.reduce((a, r) => a + f(r), 0) / results.length) * 1000) / 1000;
const alerts = results.reduce((a, r) => a + r.alerts, 0);
const incidents = results.reduce((a, r) => a + r.incidents, 0);
const pooled: CorrelateScores = {
  alerts,
  incidents,
  compression: Math.round((alerts / Math.max(1, incidents)) * 1000) / 1000,
  ari: mean((r) => r.ari),
  rca_top1: mean((r) => r.rca_top1),
  rca_top3: mean((r) => r.rca_top3),
  kedb_precision: mean((r) => r.kedb_precision),
  kedb_recall: mean((r) => r.kedb_recall),
  change_link_accuracy: mean((r) => r.change_link_accuracy),
};
console.log(
  `mean over ${k} scenario(s): ARI ${pooled.ari}, RCA top-1 ${pooled.rca_top1} top-3 ${pooled.rca_top3}, KEDB precision ${pooled.kedb_precision} recall ${pooled.kedb_recall}, change links ${pooled.change_link_accuracy}, compression ${pooled.compression}`,
);
if (values.json) console.log(JSON.stringify(pooled));
