import type { DemoService } from '../estate.ts';
import { effects, type Conditions } from '../faults.ts';
import { hashSeed, Random } from '../random.ts';
import { traffic } from './season.ts';

/**
 * Memory and CPU stay level with jitter (the traffic's daily shape is in the request
 * histograms and the logs): with a day of history the anomaly detector flags the first time
 * a seasonal gauge climbs past the range it has seen, so the demo keeps those series flat,
 * with jitter on a few levels.
 *
 * Synthetic OpenTelemetry metrics for one step of simulated time, as the OTLP/HTTP JSON an SDK
 * would export: per application a delta `http.server.request.duration` histogram per status
 * code, `process.memory.usage` (gauge) and `process.cpu.time` (cumulative sum); per data store
 * `up` (as a scrape would write it) and its memory. Noise is seeded per series.
 */

export const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface SeriesState {
  rng: Random;
  cpuTotal: number;
}

type Attr = { key: string; value: { stringValue: string } };
const attrs = (o: Record<string, string>): Attr[] =>
  Object.entries(o).map(([key, v]) => ({ key, value: { stringValue: v } }));

/** Standard normal CDF (Abramowitz-Stegun 7.1.26), enough for bucket shares. */
function phi(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** n requests with log-normal latency spread over BOUNDS, largest remainders rounded up. */
export function bucketCounts(n: number, median: number, sigma: number): number[] {
  const cdf = BOUNDS.map((b) => phi(Math.log(b / median) / sigma));
  const shares = [...cdf, 1].map((c, i) => c - (i ? cdf[i - 1]! : 0));
  const exact = shares.map((s) => s * n);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    counts[i]!++;
  }
  return counts;
}

export class MetricsGenerator {
  private readonly state = new Map<string, SeriesState>();

  constructor(
    private readonly services: readonly DemoService[],
    private readonly seed: number,
  ) {}

  private series(key: string): SeriesState {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = { rng: new Random(hashSeed(this.seed, key)), cpuTotal: 0 }));
    return s;
  }

  /** One OTLP request covering the steps [from, from + n·stepMs) (each point at its step's end). */
  request(steps: number[], stepMs: number, c: Conditions): object {
    return {
      resourceMetrics: this.services.map((svc) => ({
        resource: {
          attributes: attrs({
            'service.name': svc.name,
            'service.namespace': 'shop',
            'deployment.environment': 'production',
            'cloud.account.id': svc.account,
          }),
        },
        scopeMetrics: [
          { scope: { name: 'opsight-demo', version: '1' }, metrics: this.metrics(svc, steps, stepMs, c) },
        ],
      })),
    };
  }

  private metrics(svc: DemoService, steps: number[], stepMs: number, c: Conditions): object[] {
    const ns = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;
    const memory = this.series(`${svc.name}|mem`);
    const memPoints: object[] = [];
    const up: object[] = [];
    const cpuPoints: object[] = [];
    const hist: object[] = [];
    for (const t of steps) {
      const e = effects(svc.name, t, c);
      const season = traffic(t);
      if (svc.kind !== 'app') {
        up.push({
          timeUnixNano: ns(t),
          asDouble: e.down ? 0 : 1,
          attributes: attrs({ instance: `${svc.name}:9187` }),
        });
        if (!e.down) {
          const v = svc.memory * (1 + 0.01 * memory.rng.level());
          memPoints.push({ timeUnixNano: ns(t), asDouble: Math.round(v), attributes: [] });
        }
        continue;
      }
      const mem = svc.memory * (1 + 0.01 * memory.rng.level()) + e.memoryExtra;
      memPoints.push({ timeUnixNano: ns(t), asDouble: Math.round(mem), attributes: [] });
      const cpu = this.series(`${svc.name}|cpu`);
      cpu.cpuTotal += svc.cores * (1 + 0.04 * cpu.rng.level()) * (stepMs / 1000);
      cpuPoints.push({
        startTimeUnixNano: ns(c.anchor - 7 * 86_400_000),
        timeUnixNano: ns(t),
        asDouble: Math.round(cpu.cpuTotal * 1000) / 1000,
        attributes: [],
      });
      const req = this.series(`${svc.name}|req`);
      const expected = svc.rps * season * (stepMs / 1000);
      const n = Math.max(0, Math.round(expected + Math.sqrt(expected) * req.rng.jitter()));
      // A trickle of ordinary 5xx (0.2%), plus what a fault adds.
      const failing = Math.min(n, Math.round(n * (0.002 + e.errorShare)));
      const ok = n - failing;
      const [median, sigma] = svc.latency;
      const base = {
        'http.request.method': svc.route === '/' ? 'GET' : 'POST',
        'http.route': svc.route,
      };
      const point = (count: number, code: string, counts: number[], mean: number) => ({
        startTimeUnixNano: ns(t - stepMs),
        timeUnixNano: ns(t),
        count: String(count),
        sum: Math.round(count * mean * 1e6) / 1e6,
        bucketCounts: counts.map(String),
        explicitBounds: BOUNDS,
        attributes: attrs({ ...base, 'http.response.status_code': code }),
      });
      const mean = median * Math.exp((sigma * sigma) / 2);
      hist.push(point(ok, '200', bucketCounts(ok, median, sigma), mean));
      if (failing > 0) {
        const slow = e.errorLatency > 0 ? e.errorLatency : median;
        hist.push(point(failing, '500', bucketCounts(failing, slow, 0.4), slow));
      }
    }
    const out: object[] = [];
    if (hist.length)
      out.push({
        name: 'http.server.request.duration',
        unit: 's',
        description: 'Duration of HTTP server requests.',
        histogram: { aggregationTemporality: 1, dataPoints: hist },
      });
    if (memPoints.length)
      out.push({ name: 'process.memory.usage', unit: 'By', gauge: { dataPoints: memPoints } });
    if (cpuPoints.length)
      out.push({
        name: 'process.cpu.time',
        unit: 's',
        sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: cpuPoints },
      });
    if (up.length) out.push({ name: 'up', unit: '1', gauge: { dataPoints: up } });
    return out;
  }
}
