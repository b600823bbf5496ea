import type { Evaluation } from '../alerts/tracker.ts';
import { AnomalyDetector } from '../metrics/detector.ts';
import { restoreDetector, serializeDetector } from '../metrics/state.ts';

/**
 * The anomaly core applied to each service's RED signals, one point per health evaluation:
 * request rate, error ratio and the latency quantile. Thresholds catch the outright failure;
 * this catches what is unusual for this service at this time of day and week (traffic falling
 * away at noon, errors at 2% where they are normally 0.1%, p99 doubling but under the limit).
 *
 * The gate sees the point's surprise before the core's own alert suppression (rawScore), so
 * the health gate's fireAfter/resolveAfter hysteresis decides, as for every other rule. Errors
 * and latency alert only upwards; rate both ways (a drop is how an outage upstream looks).
 */

export type RedSignal = 'rate' | 'errors' | 'latency';

export interface RedPoint {
  service: string;
  /** Requests per second over the window. */
  rate?: number;
  errorRatio?: number;
  /** The latency quantile, seconds. */
  latency?: number;
  /** For the texts: e.g. "p99". */
  quantileLabel: string;
}

const BREACH = 1;
const BAND = 0.4;
const CLEAR = 0;
const NAMES: Record<RedSignal, { alert: string; what: string }> = {
  rate: { alert: 'UnusualRequestRate', what: 'request rate' },
  errors: { alert: 'UnusualErrorRatio', what: 'error ratio' },
  latency: { alert: 'UnusualLatency', what: 'latency' },
};

export class RedAnomalies {
  private readonly detectors = new Map<string, AnomalyDetector>();

  get size(): number {
    return this.detectors.size;
  }

  evaluate(p: RedPoint, atMs: number): Evaluation[] {
    const out: Evaluation[] = [];
    const push = (signal: RedSignal, value: number | undefined) => {
      if (value === undefined || !Number.isFinite(value)) return;
      const e = this.point(p, signal, value, atMs);
      if (e) out.push(e);
    };
    push('rate', p.rate);
    push('errors', p.errorRatio);
    push('latency', p.latency);
    return out;
  }

  private point(p: RedPoint, signal: RedSignal, value: number, atMs: number): Evaluation | undefined {
    const key = `${p.service}|${signal}`;
    let det = this.detectors.get(key);
    if (!det) {
      det = new AnomalyDetector();
      this.detectors.set(key, det);
    }
    const r = det.update(atMs, value);
    if (r.warmingUp) return undefined;
    const wrongWay = signal !== 'rate' && r.z <= 0;
    const s = wrongWay ? 0 : r.rawScore;
    const name = NAMES[signal];
    const what = signal === 'latency' ? `${p.quantileLabel} latency` : name.what;
    const fmt = (x: number) =>
      signal === 'errors'
        ? `${Math.round(x * 10_000) / 100}%`
        : signal === 'rate'
          ? `${round(x)}/s`
          : `${round(x)}s`;
    return {
      key: `anomaly/${signal}/${p.service}`,
      score: s >= 0.5 ? BREACH : s < 0.2 ? CLEAR : BAND,
      strength: s,
      atMs,
      kind: 'metric_anomaly',
      severity: 'warning',
      service: p.service,
      labels: { alertname: name.alert, rule: 'red_anomaly', signal, service: p.service },
      annotations: {
        summary: `${p.service}: unusual ${what}: ${fmt(value)} where ${fmt(r.expected)} is usual now (${fmt(r.lower)}–${fmt(r.upper)})`,
      },
      evidence: {
        series: `${what} ${p.service}`,
        observed: value,
        expected: r.expected,
        lower: r.lower,
        upper: r.upper,
      },
    };
  }

  /** JSON of the detectors' checkpoints (base64), for detector_state. */
  snapshot(): string {
    const out: Record<string, string> = {};
    for (const [k, d] of this.detectors) out[k] = Buffer.from(serializeDetector(d)).toString('base64');
    return JSON.stringify(out);
  }

  /** Restores what snapshot() wrote; an entry that no longer fits the core's layout starts fresh. */
  restore(json: string): void {
    for (const [k, b64] of Object.entries(JSON.parse(json) as Record<string, string>)) {
      try {
        this.detectors.set(k, restoreDetector(Buffer.from(b64, 'base64')));
      } catch {
        // A checkpoint from another layout version: this series relearns.
      }
    }
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
