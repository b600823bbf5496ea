import { parseArgs } from 'node:util';
import { costDetectConfig } from '../core/config/detect/cost.ts';
import { spikeOptions } from '../detect/cost/options.ts';
import { generate } from './cost/generate.ts';
import { evaluate } from './cost/run.ts';
import { readSample } from './cost/sample.ts';

/**
 * `npm run eval:cost -- [--json] [--seed N] [--series N] [--spike-min 2] [--spike-max 5]`:
 * FOCUS-shaped daily series seeded from the real sample, spikes of known size injected, scored
 * with the detector's default configuration (detect/cost/spike.ts, no ClickHouse), recall and
 * false alerts printed.
 */
const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    series: { type: 'string', default: '400' },
    // The spike factor range (one day's usage multiplied by it); the target is stated for 2..5.
    'spike-min': { type: 'string', default: '2' },
    'spike-max': { type: 'string', default: '5' },
  },
});

const config = costDetectConfig.parse({});
const options = spikeOptions(config, undefined, 'USD');
const seed = Number(values.seed);
const facts = readSample();
const series = generate(facts, {
  seed,
  series: Number(values.series),
  minMonths: 3,
  maxMonths: 6,
  spikeMin: Number(values['spike-min']),
  spikeMax: Number(values['spike-max']),
  minIncrease: options.minIncrease,
  quietStartDays: config.minHistory + 7,
});
const r = evaluate(series, options);
console.log(`cost spikes: seed ${seed}, ${series.length} series, ${r.series_months} series-months`);
console.log(
  `  injected ${r.injected} spikes (one day's usage x${values['spike-min']}..x${values['spike-max']}, increase >= ${options.minIncrease} USD)`,
);
console.log(`  detected ${r.detected}: recall ${r.recall.toFixed(3)}`);
console.log(
  `  false alerts ${r.falseAlerts}: ${r.false_alerts_per_100_series_months.toFixed(3)} per 100 series-months`,
);
if (values.json)
  console.log(
    JSON.stringify({
      series_months: r.series_months,
      injected: r.injected,
      recall: r.recall,
      false_alerts_per_100_series_months: r.false_alerts_per_100_series_months,
    }),
  );
