import type { HealthDetectConfig } from '../../core/config/detect/health.ts';
import { detectorScored, detectorTracked } from '../../core/metrics.ts';
import type { Alert } from '../../core/model/records.ts';
import { AlertTracker, type Evaluation } from '../alerts/tracker.ts';
import type { Detector, DetectorContext, DetectorStats } from '../detector.ts';
import { RedAnomalies } from './anomaly.ts';
import { histogramQuantile } from './quantile.ts';
import { requestSignals, targetsUp, latestGauges, type ServiceRequests } from './signals.ts';
import { SLO_WINDOWS, evaluateBurn } from './slo.ts';

/**
 * Failing services, by rules useful without tuning, evaluated every intervalSeconds on what
 * ingest wrote: error ratio, latency quantile, multi-window multi-burn-rate SLOs (where
 * configured), targets down (`up == 0`) and saturation gauges. Each (rule, service[, instance])
 * has a hysteresis gate (fireAfter / resolveAfter evaluations); gates survive restarts.
 */

const NAME = 'health';
// Gate input: 1 breaches, 0 clears, 0.4 (inside the hysteresis band) does neither.
const BREACH = 1;
const BAND = 0.4;
const CLEAR = 0;

export function healthDetector(cfg: HealthDetectConfig, checkpointSeconds = 60): Detector {
  return new HealthDetector(cfg, checkpointSeconds);
}

export class HealthDetector implements Detector {
  readonly name = NAME;
  readonly leaderOnly = true;
  private ctx: DetectorContext | undefined;
  private readonly tracker: AlertTracker;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private scored = 0;
  private lastError: DetectorStats['lastError'];
  private readonly red = new RedAnomalies();
  private redSavedAt = 0;

  constructor(
    private readonly cfg: HealthDetectConfig,
    private readonly checkpointSeconds = 60,
  ) {
    this.tracker = new AlertTracker(NAME, {
      breachAt: 0.5,
      clearBelow: 0.2,
      fireAfter: cfg.fireAfter,
      resolveAfter: cfg.resolveAfter,
    });
  }

  async start(ctx: DetectorContext): Promise<void> {
    this.ctx = ctx;
    const state = await ctx.state.load(NAME);
    const saved = state.get('gates');
    if (saved) this.tracker.restore(saved);
    const red = state.get('red');
    if (red) this.red.restore(red);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.evaluate()
        .then(() => undefined)
        .catch((err: unknown) => {
          this.lastError = { at: new Date().toISOString(), message: (err as Error).message };
          this.ctx!.log.warn({ err }, 'health evaluation failed; retrying next interval');
        })
        .finally(() => this.schedule(this.cfg.intervalSeconds * 1000));
    }, ms);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.ctx && this.red.size) await this.ctx.state.save(NAME, [['red', this.red.snapshot()]]);
  }

  stats(): DetectorStats {
    return {
      name: NAME,
      tracked: this.tracker.size() + this.red.size,
      scored: this.scored,
      firing: this.tracker.firing(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** One round: read the signals, evaluate every rule, emit transitions, save the gates. */
  async evaluate(nowMs = Date.now()): Promise<Alert[]> {
    const ctx = this.ctx!;
    const evals = await this.evaluations(nowMs);
    const out: Alert[] = [];
    const seen = new Set<string>();
    for (const e of evals) {
      seen.add(e.key);
      const a = this.tracker.step(e);
      if (a) out.push(a);
    }
    out.push(...this.tracker.absent(seen, nowMs));
    this.scored += evals.length;
    detectorScored.inc({ detector: NAME }, evals.length);
    detectorTracked.set({ detector: NAME }, this.tracker.size());
    await ctx.alerts.emit(out);
    const entries: [string, string][] = [['gates', this.tracker.snapshot()]];
    // The anomaly models are larger (about 1.8 kB a signal): saved at the checkpoint interval.
    if (this.red.size && nowMs - this.redSavedAt >= this.checkpointSeconds * 1000) {
      entries.push(['red', this.red.snapshot()]);
      this.redSavedAt = nowMs;
    }
    await ctx.state.save(NAME, entries);
    return out;
  }

  private async evaluations(nowMs: number): Promise<Evaluation[]> {
    const { clickhouse } = this.ctx!;
    const c = this.cfg;
    const windows = [c.errorRatio.windowSeconds, ...(c.slos.length ? SLO_WINDOWS : [])];
    const [requests, ups, gauges] = await Promise.all([
      requestSignals(clickhouse, {
        windows,
        latencyWindow: c.latency.windowSeconds,
        counters: c.requestCounters,
        histograms: c.durationHistograms,
      }),
      c.targetDown.enabled
        ? targetsUp(clickhouse, Math.max(300, c.intervalSeconds * 4))
        : Promise.resolve([]),
      Promise.all(
        c.saturation.map(async (rule) => ({
          rule,
          readings: await latestGauges(
            clickhouse,
            rule.metric,
            rule.per,
            Math.max(600, c.intervalSeconds * 4),
          ),
        })),
      ),
    ]);
    const out: Evaluation[] = [];
    for (const [service, r] of requests) {
      out.push(...this.errorRatio(service, r, nowMs));
      out.push(...this.latency(service, r, nowMs));
      if (c.anomaly.enabled) out.push(...this.redAnomaly(service, r, nowMs));
    }
    for (const slo of c.slos) {
      const r = requests.get(slo.service);
      if (r) out.push(this.slo(slo.service, slo.objective, slo.periodDays, r, nowMs));
    }
    for (const u of ups) {
      out.push({
        key: `target_down/${u.service}/${u.instance}`,
        score: u.up === 0 ? BREACH : CLEAR,
        atMs: nowMs,
        kind: 'service_down',
        severity: 'critical',
        service: u.service,
        labels: { alertname: 'TargetDown', rule: 'target_down', service: u.service, instance: u.instance },
        annotations: {
          summary: `${u.service} target ${u.instance} is down (up == 0)`,
          description: `The last scrape of ${u.instance} (job ${u.service}) failed.`,
        },
        evidence: {
          series: `up{job="${u.service}",instance="${u.instance}"}`,
          observed: u.up,
          expected: 1,
          query: `SELECT TimeUnix, Value FROM otel_metrics_gauge WHERE MetricName = 'up' AND ServiceName = '${sqlString(u.service)}' ORDER BY TimeUnix DESC LIMIT 20`,
        },
      });
    }
    for (const { rule, readings } of gauges) {
      for (const g of readings) {
        const breach = rule.op === '<' ? g.value < rule.threshold : g.value > rule.threshold;
        // 5% of the threshold as hysteresis band.
        const band = Math.abs(rule.threshold) * 0.05;
        const clear = rule.op === '<' ? g.value >= rule.threshold + band : g.value <= rule.threshold - band;
        const where = Object.entries(g.attributes)
          .sort()
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        out.push({
          key: `saturation/${rule.name}/${rule.metric}/${g.service}/${where}`,
          score: breach ? BREACH : clear ? CLEAR : BAND,
          atMs: nowMs,
          kind: 'metric_anomaly',
          severity: 'warning',
          service: g.service,
          labels: { alertname: rule.name, rule: 'saturation', service: g.service, ...g.attributes },
          annotations: {
            summary: `${g.service}: ${rule.name} (${rule.metric}${rule.per ? ` / ${rule.per}` : ''} = ${round(g.value)} ${rule.op} ${rule.threshold})`,
          },
          evidence: { series: `${rule.metric}{${where}}`, observed: g.value, expected: rule.threshold },
        });
      }
    }
    return out;
  }

  private errorRatio(service: string, r: ServiceRequests, atMs: number): Evaluation[] {
    const o = this.cfg.errorRatio;
    const w = r.windows.get(o.windowSeconds);
    if (!w || w.total < o.minRequests) return [];
    const ratio = w.errors / w.total;
    const score = ratio >= o.warning ? BREACH : ratio < o.warning * 0.8 ? CLEAR : BAND;
    return [
      {
        key: `error_ratio/${service}`,
        score,
        strength: Math.min(1, ratio / o.critical),
        atMs,
        kind: 'metric_anomaly',
        severity: ratio >= o.critical ? 'critical' : 'warning',
        service,
        labels: { alertname: 'HighErrorRatio', rule: 'error_ratio', service },
        annotations: {
          summary: `${service}: ${pct(ratio)} of requests fail (${w.errors} of ${w.total} in ${o.windowSeconds}s)`,
          description: `Error ratio above ${pct(o.warning)} (critical at ${pct(o.critical)}).`,
        },
        evidence: { series: `errors/requests ${service}`, observed: ratio, expected: 0, upper: o.warning },
      },
    ];
  }

  /** The configured latency quantile over the latency window, when there is enough traffic. */
  private latencyValue(r: ServiceRequests): number | undefined {
    const o = this.cfg.latency;
    const d = r.duration;
    const total = d?.counts.reduce((a, b) => a + b, 0) ?? 0;
    if (!d || total < o.minRequests) return undefined;
    return histogramQuantile(o.quantile, d.bounds, d.counts);
  }

  /** One point per signal into the service's anomaly models (rate, error ratio, latency). */
  private redAnomaly(service: string, r: ServiceRequests, atMs: number): Evaluation[] {
    const o = this.cfg.errorRatio;
    const w = r.windows.get(o.windowSeconds);
    return this.red.evaluate(
      {
        service,
        rate: w ? w.total / o.windowSeconds : undefined,
        errorRatio: w && w.total >= o.minRequests ? w.errors / w.total : undefined,
        latency: this.latencyValue(r),
        quantileLabel: `p${Math.round(this.cfg.latency.quantile * 1000) / 10}`,
      },
      atMs,
    );
  }

  private latency(service: string, r: ServiceRequests, atMs: number): Evaluation[] {
    const o = this.cfg.latency;
    const value = this.latencyValue(r);
    if (value === undefined) return [];
    const limit = o.services[service] ?? o.thresholdSeconds;
    const q = `p${Math.round(o.quantile * 1000) / 10}`;
    return [
      {
        key: `latency/${service}`,
        score: value > limit ? BREACH : value < limit * 0.9 ? CLEAR : BAND,
        strength: Math.min(1, value / (limit * 4)),
        atMs,
        kind: 'metric_anomaly',
        severity: value > limit * 2 ? 'critical' : 'warning',
        service,
        labels: { alertname: 'HighLatency', rule: 'latency', service },
        annotations: {
          summary: `${service}: ${q} latency ${round(value)}s above ${limit}s`,
        },
        evidence: {
          series: `${q} request duration ${service}`,
          observed: value,
          expected: limit,
          upper: limit,
        },
      },
    ];
  }

  private slo(
    service: string,
    objective: number,
    periodDays: number,
    r: ServiceRequests,
    atMs: number,
  ): Evaluation {
    const ratio = (w: number) => {
      const c = r.windows.get(w);
      return c && c.total > 0 ? c.errors / c.total : undefined;
    };
    const burn = evaluateBurn(objective, periodDays, ratio);
    const labels = { alertname: 'ErrorBudgetBurn', rule: 'slo_burn', service };
    if (!burn)
      return {
        key: `slo/${service}`,
        score: CLEAR,
        atMs,
        kind: 'slo_burn',
        severity: 'warning',
        service,
        labels,
        annotations: {},
      };
    const h = (s: number) => (s >= 3600 ? `${s / 3600}h` : `${s / 60}m`);
    return {
      key: `slo/${service}`,
      score: BREACH,
      strength: Math.min(1, burn.longBurn / (burn.threshold * 2)),
      atMs,
      kind: 'slo_burn',
      severity: burn.pair.severity,
      service,
      labels: { ...labels, window: `${h(burn.pair.longSeconds)}/${h(burn.pair.shortSeconds)}` },
      annotations: {
        summary: `${service}: error budget burning ${round(burn.longBurn)}x over ${h(burn.pair.longSeconds)} (${round(burn.shortBurn)}x over ${h(burn.pair.shortSeconds)}), threshold ${round(burn.threshold)}x`,
        description: `SLO ${pct(objective)} over ${periodDays} days; at this rate the budget lasts ${round(periodDays / burn.longBurn)} days.`,
      },
      evidence: {
        series: `error ratio ${service}`,
        observed: burn.longBurn,
        expected: 1,
        upper: burn.threshold,
      },
    };
  }
}

/** For evidence queries shown to people (never executed by opsight). */
const sqlString = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
const pct = (x: number) => `${Math.round(x * 10_000) / 100}%`;
const round = (x: number) => Math.round(x * 1000) / 1000;
