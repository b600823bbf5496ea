import type { Subscription } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { MetricsDetectConfig } from '../../core/config/detect/metrics.ts';
import { detectorScored, detectorTracked } from '../../core/metrics.ts';
import { forEachMetricPoint } from '../../core/model/metric-samples.ts';
import type { Alert, MetricPoint } from '../../core/model/records.ts';
import { AlertTracker } from '../alerts/tracker.ts';
import type { Detector, DetectorContext, DetectorStats } from '../detector.ts';
import { AnomalyDetector } from './detector.ts';
import { restoreDetector, serializeDetector } from './state.ts';

/**
 * The anomaly core on the metric stream: one AnomalyDetector per series (gauges as they are,
 * monotonic cumulative counters as per-second rates, delta sums per second), fed from
 * opsight.metrics in its own consumer group. A score ≥ 0.5 fires a metric_anomaly alert with
 * the expected value and band; it resolves after a few calm points. States go to
 * detector_state every checkpoint, so a restart resumes without a blind warm-up; redelivered
 * points (at or before a series' last time) are skipped.
 */
export const METRICS_GROUP = 'opsight-detect-metrics';
const NAME = 'metrics';

interface Series {
  det: AnomalyDetector;
  lastMs: number;
  /** Counters: previous cumulative value. */
  prev?: number;
  service: string;
  metric: string;
  attributes: Record<string, string>;
  dirty: boolean;
}

export function metricsDetector(cfg: MetricsDetectConfig, checkpointSeconds: number): Detector {
  return new MetricsStreamDetector(cfg, checkpointSeconds);
}

export class MetricsStreamDetector implements Detector {
  readonly name = NAME;
  private ctx: DetectorContext | undefined;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly series = new Map<string, Series>();
  private readonly include: RegExp;
  private readonly exclude: RegExp;
  private readonly tracker = new AlertTracker(NAME, {
    breachAt: 0.5,
    clearBelow: 0.2,
    fireAfter: 1,
    resolveAfter: 5,
  });
  private scored = 0;
  private dropped = 0;
  private lastError: DetectorStats['lastError'];

  constructor(
    private readonly cfg: MetricsDetectConfig,
    private readonly checkpointSeconds: number,
  ) {
    this.include = new RegExp(cfg.include);
    this.exclude = new RegExp(cfg.exclude);
  }

  async start(ctx: DetectorContext): Promise<void> {
    this.ctx = ctx;
    const saved = await ctx.state.load(NAME);
    for (const [key, json] of saved) {
      if (key === '__alerts') {
        this.tracker.restore(json);
        continue;
      }
      const s = JSON.parse(json) as Omit<Series, 'det' | 'dirty'> & { state: string };
      const det = restoreDetector(Buffer.from(s.state, 'base64'), this.detectorConfig(s.service));
      this.series.set(key, { ...s, det, dirty: false });
    }
    this.sub = await ctx.bus.subscribe<unknown>({
      group: METRICS_GROUP,
      topics: [TOPICS.metrics],
      handler: async (batch) => {
        const alerts: Alert[] = [];
        // A message is one point or packed samples (remote_write).
        for (const m of batch.messages) forEachMetricPoint(m.value, (p) => this.point(p, alerts));
        await ctx.alerts.emit(alerts);
      },
    });
    this.timer = setInterval(() => void this.checkpoint(), this.checkpointSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sub?.close();
    await this.checkpoint();
  }

  stats(): DetectorStats {
    return {
      name: NAME,
      tracked: this.series.size,
      scored: this.scored,
      firing: this.tracker.firing(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private detectorConfig(service: string) {
    const o = this.cfg.services[service];
    return {
      sensitivity: o?.sensitivity ?? this.cfg.sensitivity,
      seasons: this.cfg.seasons,
      minHistory: this.cfg.minHistory,
    };
  }

  /** Scores one point; pushes the alert transition it causes. */
  point(p: MetricPoint, out: Alert[]): void {
    if (p.type !== 'gauge' && p.type !== 'sum') return;
    if (!this.include.test(p.name) || this.exclude.test(p.name)) return;
    const service = p.resource['service.name'] ?? '';
    if (this.cfg.services[service]?.enabled === false) return;
    const ms = Number(BigInt(p.timeUnixNano) / 1_000_000n);
    const key = seriesId(service, p.name, p.attributes);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.cfg.maxSeries) {
        this.dropped++;
        return;
      }
      s = {
        det: new AnomalyDetector(this.detectorConfig(service)),
        lastMs: -Infinity,
        service,
        metric: p.name,
        attributes: p.attributes,
        dirty: true,
      };
      this.series.set(key, s);
    }
    if (ms <= s.lastMs) return; // a redelivery, or out of order
    let value = p.value ?? NaN;
    if (p.type === 'sum') {
      const dtS = (ms - s.lastMs) / 1000;
      if (p.temporality === 'cumulative' || p.temporality === undefined) {
        const prev = s.prev;
        s.prev = value;
        // The first point, or a reset: no rate yet.
        value = prev === undefined || value < prev || !Number.isFinite(dtS) ? NaN : (value - prev) / dtS;
      } else if (Number.isFinite(dtS)) value = value / dtS;
      else value = NaN;
    }
    s.lastMs = ms;
    s.dirty = true;
    if (!Number.isFinite(value)) return;
    const r = s.det.update(ms, value);
    this.scored++;
    detectorScored.inc({ detector: NAME });
    if (r.warmingUp) return;
    const labels = {
      alertname: 'MetricAnomaly',
      metric: p.name,
      ...(service ? { service } : {}),
      ...p.attributes,
    };
    const a = this.tracker.step({
      key,
      score: r.score >= 0.5 ? r.score : r.rawScore < 0.2 ? 0 : 0.3,
      strength: Math.max(r.score, r.rawScore),
      atMs: ms,
      kind: 'metric_anomaly',
      severity: r.rawScore > 0.9 ? 'error' : 'warning',
      ...(service ? { service } : {}),
      labels,
      annotations: {
        summary: `${service ? `${service}: ` : ''}${p.name} is ${fmt(value)}${p.type === 'sum' ? '/s' : ''}, expected ${fmt(r.expected)} (${fmt(r.lower)}..${fmt(r.upper)})`,
      },
      evidence: {
        series: key,
        observed: value,
        expected: r.expected,
        lower: r.lower,
        upper: r.upper,
        query: `SELECT TimeUnix, Value FROM ${p.type === 'sum' ? 'otel_metrics_sum' : 'otel_metrics_gauge'} WHERE ServiceName = '${esc(service)}' AND MetricName = '${esc(p.name)}' ORDER BY TimeUnix DESC LIMIT 500`,
      },
    });
    if (a) out.push(a);
  }

  async checkpoint(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    const entries: [string, string][] = [['__alerts', this.tracker.snapshot()]];
    for (const [key, s] of this.series) {
      if (!s.dirty) continue;
      s.dirty = false;
      entries.push([
        key,
        JSON.stringify({
          state: Buffer.from(serializeDetector(s.det)).toString('base64'),
          lastMs: s.lastMs,
          prev: s.prev,
          service: s.service,
          metric: s.metric,
          attributes: s.attributes,
        }),
      ]);
    }
    try {
      await ctx.state.save(NAME, entries);
    } catch (err) {
      this.lastError = { at: new Date().toISOString(), message: (err as Error).message };
      for (const [key] of entries) {
        const s = this.series.get(key);
        if (s) s.dirty = true;
      }
      ctx.log.warn({ err }, 'metrics detector checkpoint failed; retrying at the next one');
    }
    detectorTracked.set({ detector: NAME }, this.series.size);
  }
}

function seriesId(service: string, name: string, attributes: Record<string, string>): string {
  const attrs = Object.keys(attributes)
    .sort()
    .map((k) => `${k}=${JSON.stringify(attributes[k])}`)
    .join(',');
  return `${service}|${name}{${attrs}}`;
}

const fmt = (x: number) =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3);
const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
