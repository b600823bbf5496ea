import type { Alert, AlertEvidence, AlertKind, Severity } from '../../core/model/records.ts';
import { fingerprintOf } from '../../core/model/fingerprint.ts';
import { newGateState, stepGate, type GateOptions, type GateState } from './gate.ts';

/**
 * Turns a detector's per-key evaluations into alert transitions: one hysteresis gate per key
 * (see gate.ts), an Alert record when a gate fires or resolves, and the firing set as state
 * that survives a restart (so an alert raised before a restart still resolves after it).
 */
export interface Evaluation {
  /** Stable identity of what is evaluated (rule + service + instance, a series key, ...). */
  key: string;
  /** 0..1; the gate's thresholds apply to it. */
  score: number;
  /** The alert's score when it differs from the gate input (e.g. how far past the threshold). */
  strength?: number;
  atMs: number;
  kind: AlertKind;
  severity: Severity;
  service?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  evidence?: AlertEvidence;
}

interface Tracked {
  gate: GateState;
  /** The firing alert, kept to resolve it with the same identity. */
  alert?: Alert;
}

export class AlertTracker {
  private readonly tracked = new Map<string, Tracked>();

  constructor(
    private readonly source: string,
    private readonly gate: GateOptions,
  ) {}

  /** Feeds one evaluation; returns the alert transition it causes, if any. */
  step(e: Evaluation): Alert | undefined {
    let t = this.tracked.get(e.key);
    if (!t) {
      t = { gate: newGateState() };
      this.tracked.set(e.key, t);
    }
    const change = stepGate(t.gate, e.score, e.atMs, this.gate);
    if (change === 'fire') {
      t.alert = {
        fingerprint: fingerprintOf({ source: this.source, key: e.key }),
        source: this.source,
        kind: e.kind,
        status: 'firing',
        severity: e.severity,
        ...(e.service ? { service: e.service } : {}),
        labels: { ...e.labels, alertname: e.labels.alertname ?? e.kind },
        annotations: e.annotations,
        startsAt: new Date(t.gate.since || e.atMs).toISOString(),
        score: e.strength ?? e.score,
        ...(e.evidence ? { evidence: e.evidence } : {}),
      };
      return t.alert;
    }
    if (change === 'resolve' && t.alert) {
      const resolved: Alert = {
        ...t.alert,
        status: 'resolved',
        endsAt: new Date(e.atMs).toISOString(),
        score: e.strength ?? e.score,
        ...(e.evidence ? { evidence: e.evidence } : {}),
      };
      t.alert = undefined;
      return resolved;
    }
    return undefined;
  }

  /**
   * Keys not evaluated in this round (the series vanished): a firing alert on them resolves
   * after resolveAfter rounds of absence, as if its score were 0.
   */
  absent(seen: Set<string>, atMs: number): Alert[] {
    const out: Alert[] = [];
    for (const [key, t] of this.tracked) {
      if (seen.has(key)) continue;
      if (!t.gate.firing) {
        this.tracked.delete(key);
        continue;
      }
      const a = this.step({
        key,
        score: 0,
        atMs,
        kind: t.alert!.kind,
        severity: t.alert!.severity,
        labels: t.alert!.labels,
        annotations: t.alert!.annotations,
      });
      if (a) out.push(a);
      if (!t.gate.firing) this.tracked.delete(key);
    }
    return out;
  }

  firing(): number {
    let n = 0;
    for (const t of this.tracked.values()) if (t.gate.firing) n++;
    return n;
  }

  size(): number {
    return this.tracked.size;
  }

  /** Firing alerts and gates in a breach run, as JSON, for the state store. */
  snapshot(): string {
    const keep = [...this.tracked].filter(([, t]) => t.gate.firing || t.gate.run > 0);
    return JSON.stringify(keep);
  }

  restore(json: string): void {
    this.tracked.clear();
    for (const [k, t] of JSON.parse(json) as [string, Tracked][]) this.tracked.set(k, t);
  }
}
