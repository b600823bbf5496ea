import type { Subscription } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import type { LogsDetectConfig } from '../../core/config/detect/logs.ts';
import { detectorScored, detectorTracked } from '../../core/metrics.ts';
import type { Alert, LogRecord, Severity } from '../../core/model/records.ts';
import { fingerprintOf } from '../../core/model/fingerprint.ts';
import type { Detector, DetectorContext, DetectorStats } from '../detector.ts';
import { TemplateMiner, type MinerState } from '../../core/logs/drain.ts';
import { TemplateRates, type RateState } from './surge.ts';

/**
 * Template rates on the log stream (its own consumer group on opsight.logs). Ingest stamps every
 * line with its template (core/logs); a line that arrives unstamped (stamping turned off, an
 * older producer) is mined here with one miner per service. Alerts: a template seen for the first time at error
 * severity or above, and a template whose per-minute rate surges against its own baseline;
 * each resolves after quietMinutes without a repeat. log_templates gets count deltas per
 * checkpoint; miners and rates are checkpointed to detector_state so ids and baselines survive
 * a restart.
 */
export const LOGS_GROUP = 'opsight-detect-logs';
const NAME = 'logs';

interface ServiceState {
  miner: TemplateMiner;
  rates: TemplateRates;
  dirty: boolean;
}

interface TemplateDelta {
  service: string;
  templateId: string;
  template: string;
  first: number;
  last: number;
  count: number;
  sample: string;
  severity: string;
}

interface Open {
  alert: Alert;
  lastMs: number;
}

export function logsDetector(cfg: LogsDetectConfig, checkpointSeconds: number, similarity = 0.8): Detector {
  return new LogsStreamDetector(cfg, checkpointSeconds, similarity);
}

export class LogsStreamDetector implements Detector {
  readonly name = NAME;
  private ctx: DetectorContext | undefined;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly services = new Map<string, ServiceState>();
  private readonly deltas = new Map<string, TemplateDelta>();
  private readonly open = new Map<string, Open>();
  private scored = 0;
  private lastError: DetectorStats['lastError'];

  constructor(
    private readonly cfg: LogsDetectConfig,
    private readonly checkpointSeconds: number,
    private readonly similarity = 0.8,
  ) {}

  async start(ctx: DetectorContext): Promise<void> {
    this.ctx = ctx;
    for (const [key, json] of await ctx.state.load(NAME)) {
      if (key === '__alerts') {
        for (const [k, o] of JSON.parse(json) as [string, Open][]) this.open.set(k, o);
        continue;
      }
      const s = JSON.parse(json) as { miner: MinerState; rates: RateState[] };
      this.services.set(key, {
        miner: TemplateMiner.restore(s.miner, { similarity: this.similarity }),
        rates: TemplateRates.restore(s.rates),
        dirty: false,
      });
    }
    this.sub = await ctx.bus.subscribe<LogRecord>({
      group: LOGS_GROUP,
      topics: [TOPICS.logs],
      handler: async (batch) => {
        const out: Alert[] = [];
        let latest = 0;
        for (const m of batch.messages) latest = Math.max(latest, this.line(m.value, out));
        out.push(...this.resolveQuiet(latest));
        await ctx.alerts.emit(out);
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
    let tracked = 0;
    for (const s of this.services.values()) tracked += s.miner.size;
    return {
      name: NAME,
      tracked,
      scored: this.scored,
      firing: this.open.size,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Mines one line; returns its time (ms). */
  line(l: LogRecord, out: Alert[]): number {
    const service = l.serviceName || l.resource['service.name'] || '';
    let s = this.services.get(service);
    if (!s) {
      s = {
        miner: new TemplateMiner({ similarity: this.similarity }),
        rates: new TemplateRates(),
        dirty: true,
      };
      this.services.set(service, s);
    }
    const ms = Number(BigInt(l.timeUnixNano) / 1_000_000n) || Date.now();
    const m: Mined =
      l.templateId !== undefined && l.template !== undefined
        ? { templateId: l.templateId, template: l.template, isNew: true }
        : s.miner.add(l.body);
    const obs = s.rates.observe(m.templateId, ms);
    s.dirty = true;
    this.scored++;
    detectorScored.inc({ detector: NAME });
    const key = `${service}|${m.templateId}`;
    const d = this.deltas.get(key);
    if (d) {
      d.count++;
      d.last = Math.max(d.last, ms);
      d.template = m.template;
    } else {
      this.deltas.set(key, {
        service,
        templateId: m.templateId,
        template: m.template,
        first: ms,
        last: ms,
        count: 1,
        sample: l.body.slice(0, 2000),
        severity: l.severityText,
      });
    }
    for (const kind of ['new', 'surge'] as const) {
      const o = this.open.get(`${kind}|${key}`);
      if (o) o.lastMs = Math.max(o.lastMs, ms);
    }
    if (obs.isNew && m.isNew && l.severityNumber >= this.cfg.newTemplateSeverity) {
      out.push(
        this.fire('new', service, m.templateId, m.template, ms, severityOf(l.severityNumber), {
          summary: `${service || 'a service'}: new error log template: ${clip(m.template)}`,
          description: `First seen: ${clip(l.body)}`,
        }),
      );
    }
    if (this.cfg.surges && obs.surge && !this.open.has(`surge|${key}`)) {
      const sg = obs.surge;
      out.push(
        this.fire(
          'surge',
          service,
          m.templateId,
          m.template,
          ms,
          l.severityNumber >= 17 ? 'error' : 'warning',
          {
            summary: `${service || 'a service'}: log template surging, ${sg.count}/min against ${sg.expected.toFixed(1)}/min expected: ${clip(m.template)}`,
          },
          { observed: sg.count, expected: sg.expected, upper: sg.upper },
          Math.min(1, sg.score / 10),
        ),
      );
    }
    return ms;
  }

  private fire(
    kind: 'new' | 'surge',
    service: string,
    templateId: string,
    template: string,
    ms: number,
    severity: Severity,
    annotations: Record<string, string>,
    ev: { observed?: number; expected?: number; upper?: number } = {},
    score = 0.8,
  ): Alert {
    const labels = {
      alertname: kind === 'new' ? 'NewErrorLogTemplate' : 'LogTemplateSurge',
      ...(service ? { service } : {}),
      template_id: templateId,
    };
    const alert: Alert = {
      fingerprint: fingerprintOf({ source: NAME, kind, service, templateId }),
      source: NAME,
      kind: 'log_anomaly',
      status: 'firing',
      severity,
      ...(service ? { service } : {}),
      labels,
      annotations: { ...annotations, template },
      startsAt: new Date(ms).toISOString(),
      score,
      evidence: {
        series: `${service} template ${templateId}`,
        ...ev,
        query: `SELECT Timestamp, SeverityText, Body FROM otel_logs WHERE ServiceName = '${esc(service)}' ORDER BY Timestamp DESC LIMIT 200`,
      },
    };
    this.open.set(`${kind}|${service}|${templateId}`, { alert, lastMs: ms });
    return alert;
  }

  private resolveQuiet(nowMs: number): Alert[] {
    const out: Alert[] = [];
    const quiet = this.cfg.quietMinutes * 60_000;
    for (const [k, o] of this.open) {
      if (nowMs - o.lastMs < quiet) continue;
      this.open.delete(k);
      out.push({ ...o.alert, status: 'resolved', endsAt: new Date(nowMs).toISOString() });
    }
    return out;
  }

  async checkpoint(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    try {
      const deltas = [...this.deltas.values()];
      this.deltas.clear();
      if (deltas.length)
        await ctx.clickhouse.insert({
          table: 'log_templates',
          format: 'JSONEachRow',
          values: deltas.map((d) => ({
            service: d.service,
            template_id: d.templateId,
            template: d.template,
            first_seen: new Date(d.first).toISOString(),
            last_seen: new Date(d.last).toISOString(),
            count: d.count,
            sample: d.sample,
            severity_text: d.severity,
          })),
          clickhouse_settings: { date_time_input_format: 'best_effort' },
        });
      const entries: [string, string][] = [['__alerts', JSON.stringify([...this.open])]];
      for (const [service, s] of this.services) {
        if (!s.dirty) continue;
        s.dirty = false;
        entries.push([service, JSON.stringify({ miner: s.miner.snapshot(), rates: s.rates.snapshot() })]);
      }
      await ctx.state.save(NAME, entries);
    } catch (err) {
      this.lastError = { at: new Date().toISOString(), message: (err as Error).message };
      ctx.log.warn({ err }, 'logs detector checkpoint failed; retrying at the next one');
    }
    detectorTracked.set({ detector: NAME }, this.services.size);
  }
}

/** A line's template: stamped by ingest, or mined here (then isNew is the miner's own view). */
interface Mined {
  templateId: string;
  template: string;
  isNew: boolean;
}

function severityOf(n: number): Severity {
  return n >= 21 ? 'critical' : n >= 17 ? 'error' : n >= 13 ? 'warning' : 'info';
}
const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);
const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
