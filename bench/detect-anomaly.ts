/**
 * Anomaly core throughput: points/s on one core over 10k series (one AnomalyDetector each, points
 * interleaved across series as they arrive from the bus), state bytes per series (fixed layout and
 * measured heap), and checkpoint cost. Target (issue 5): 1M points/s per core, ≤ 2 KB per series.
 *
 *   npx tsx bench/detect-anomaly.ts [--series 10000] [--days 3]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { quantile } from 'simple-statistics';
import { AnomalyDetector, serializeDetector, STATE_BYTES } from '../detect/metrics/index.ts';

const { values: args } = parseArgs({
  options: { series: { type: 'string', default: '10000' }, days: { type: 'string', default: '3' } },
});
const SERIES = Number(args.series);
const ROUNDS = Math.round(Number(args.days) * 288); // 5-minute points
const TARGET_POINTS_PER_S = 1_000_000;

// Inputs precomputed so the timing measures the detector, not the generator: each series is a
// daily cycle with its own level, phase and noise.
const seasonalTable = new Float64Array(288);
for (let i = 0; i < 288; i++) seasonalTable[i] = Math.sin((2 * Math.PI * i) / 288);
const noise = new Float64Array(4096);
let seed = 12345;
for (let i = 0; i < noise.length; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  noise[i] = seed / 2 ** 32 - 0.5;
}
const level = new Float64Array(SERIES);
const phase = new Int32Array(SERIES);
for (let s = 0; s < SERIES; s++) {
  level[s] = 10 + (s % 997);
  phase[s] = (s * 37) % 288;
}

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const detectors: AnomalyDetector[] = [];
for (let s = 0; s < SERIES; s++) detectors.push(new AnomalyDetector());
global.gc?.();
const heapPerSeries = (process.memoryUsage().heapUsed - heapBefore) / SERIES;

const t0 = Date.UTC(2025, 0, 6);
const roundMs: number[] = [];
let alerts = 0;
const start = performance.now();
for (let r = 0; r < ROUNDS; r++) {
  const t = t0 + r * 300_000;
  const rs = performance.now();
  for (let s = 0; s < SERIES; s++) {
    const l = level[s]!;
    const v = l + 0.3 * l * seasonalTable[(r + phase[s]!) % 288]! + 0.05 * l * noise[(r * 31 + s) & 4095]!;
    if (detectors[s]!.update(t, v).score >= 0.5) alerts++;
  }
  roundMs.push(performance.now() - rs);
}
const seconds = (performance.now() - start) / 1000;
const points = SERIES * ROUNDS;
const pps = points / seconds;

const cs = performance.now();
let checkpointBytes = 0;
for (const d of detectors) checkpointBytes += serializeDetector(d).byteLength;
const checkpointMs = performance.now() - cs;

console.log(
  `anomaly core: ${SERIES} series × ${ROUNDS} points (${points.toLocaleString('en')} points), one thread`,
);
console.log(
  `  throughput        ${(pps / 1e6).toFixed(2)}M points/s per core (target 1M: ratio ${(pps / TARGET_POINTS_PER_S).toFixed(2)})`,
);
console.log(
  `  per round of ${SERIES} points  p50 ${quantile(roundMs, 0.5).toFixed(2)} ms, p99 ${quantile(roundMs, 0.99).toFixed(2)} ms`,
);
console.log(
  `  state             ${STATE_BYTES} bytes per series (typed array), ${heapPerSeries.toFixed(0)} bytes heap per detector`,
);
console.log(
  `  checkpoint        ${(checkpointBytes / SERIES).toFixed(0)} bytes per series, ${((checkpointMs * 1000) / SERIES).toFixed(2)} µs each`,
);
console.log(`  alerts raised     ${alerts} (clean synthetic input)`);
console.log(`  peak RSS          ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
console.log(
  `  load average      ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
