import { randomUUID } from 'node:crypto';
import type { Alert, Incident, Severity } from '../../core/model/records.ts';
import { CiBinder, type Binding } from './bind.ts';
import { ChangeIndex } from './changes.ts';
import { CiGraph } from './graph.ts';
import { KnownErrorMatcher, type KnownErrorMatch } from './kedb.ts';
import type { Ci } from './model.ts';
import { priorityOf, severityRank, worse, type Priority } from './priority.ts';
import { rankRootCauses, type AffectedCi, type RootCause } from './rca.ts';

/**
 * The correlator: alerts in, incidents out, in memory and synchronous so it keeps up with
 * alert storms; the role around it persists what changed and notifies.
 *
 * - Dedup: one state per fingerprint. A repeat of a firing alert only counts (count, last
 *   seen). A resolved alert that fires again within flapWindow goes back to its incident (and
 *   re-opens it if it had resolved) instead of opening a new one.
 * - Grouping: a new firing alert joins an open incident seen within groupWindow when its CI is
 *   the same as, or within maxHops of, one of the incident's CIs in the dependency graph, or
 *   when a correlation rule matches (same values of the rule's labels within its window). Cost
 *   alerts group per account, service and day. Otherwise it opens an incident.
 * - Triage on every change of membership: root-cause candidates, blast radius, known errors,
 *   suspect changes, priority (impact × urgency), title.
 * - Lifecycle: open → acknowledged → resolved; auto-resolve once every alert has stayed
 *   resolved for quietPeriod.
 */

export interface CorrelationRule {
  name: string;
  /** Alerts with equal values of all these labels group (within windowMs). */
  labels: string[];
  windowMs: number;
}

export interface CorrelatorOptions {
  groupWindowMs: number;
  maxHops: number;
  flapWindowMs: number;
  quietPeriodMs: number;
  changeWindowMs: number;
  rules: CorrelationRule[];
}

export const DEFAULT_OPTIONS: CorrelatorOptions = {
  groupWindowMs: 10 * 60_000,
  maxHops: 2,
  flapWindowMs: 15 * 60_000,
  quietPeriodMs: 10 * 60_000,
  changeWindowMs: 2 * 3600_000,
  rules: [],
};

export type IncidentEventType =
  | 'opened'
  | 'updated'
  | 'priority_changed'
  | 'root_cause_changed'
  | 'acknowledged'
  | 'resolved'
  | 'reopened'
  | 'commented';

export interface IncidentEvent {
  type: IncidentEventType;
  incident: Incident;
}

export interface IngestResult {
  action: 'opened' | 'joined' | 'deduplicated' | 'reopened' | 'flap' | 'resolved' | 'ignored';
  incidentId?: string;
  binding?: Binding;
}

interface AlertState {
  alert: Alert;
  count: number;
  firstSeen: number;
  lastSeen: number;
  resolvedAt?: number;
  incidentId?: string;
  ci?: string;
  bindReason?: string;
  flaps: number;
}

interface IncidentState {
  id: string;
  status: Incident['status'];
  severity: Severity;
  priority: Priority;
  title: string;
  alerts: Set<string>;
  notifications: number;
  cis: Map<string, AffectedCi>;
  rootCauses: RootCause[];
  blastRadius: string[];
  knownErrors: KnownErrorMatch[];
  changes: NonNullable<Incident['changes']>;
  timeline: { at: string; event: string }[];
  firstSeen: number;
  lastSeen: number;
  /** When an alert last joined (repeats do not count): the grouping window runs from here. */
  lastJoin: number;
  /** Member alerts firing now (so "all resolved" is O(1) in a storm). */
  firing: number;
  /**
   * What triage reads instead of every member (an incident may hold thousands): the first
   * alerts, and each CI's alerts up to a few, so its cost follows the CIs, not the alerts.
   */
  sample: string[];
  byCi: Map<string, string[]>;
  /** Alert time of the last triage. */
  triagedAt: number;
  allResolvedAt?: number;
  acknowledgedAt?: number;
  resolvedAt?: number;
  costKey?: string;
  notified: string[];
  version: number;
}

export class Correlator {
  readonly graph: CiGraph;
  readonly changes: ChangeIndex;
  readonly kedb: KnownErrorMatcher;
  private readonly binder: CiBinder;
  private readonly o: CorrelatorOptions;
  private readonly alerts = new Map<string, AlertState>();
  private readonly incidents = new Map<string, IncidentState>();
  /** Open incidents per CI, for grouping without scanning every incident. */
  private readonly openByCi = new Map<string, Set<string>>();
  private readonly outbox: IncidentEvent[] = [];
  /** Incidents with plain updates since the last drain: one snapshot each, built at drain. */
  private readonly updated = new Map<string, IncidentState>();
  /** Incidents whose membership changed since the last drain: triaged once per drain, not per alert. */
  private readonly dirty = new Map<string, number>();
  private readonly discovered: Ci[] = [];

  constructor(
    options: Partial<CorrelatorOptions> = {},
    deps: { graph?: CiGraph; changes?: ChangeIndex; kedb?: KnownErrorMatcher; newId?: () => string } = {},
  ) {
    this.o = { ...DEFAULT_OPTIONS, ...options };
    this.graph = deps.graph ?? new CiGraph();
    this.changes = deps.changes ?? new ChangeIndex();
    this.kedb = deps.kedb ?? new KnownErrorMatcher();
    this.binder = new CiBinder(this.graph);
    if (deps.newId) this.newId = deps.newId;
  }

  private newId = (): string => `INC-${randomUUID().slice(0, 8).toUpperCase()}`;

  /** After CMDB imports change the graph. */
  cmdbChanged(): void {
    this.binder.reindex();
  }

  ingest(alert: Alert, nowMs: number): IngestResult {
    const prev = this.alerts.get(alert.fingerprint);
    if (alert.status === 'resolved') return this.resolveAlert(alert, prev, nowMs);
    if (prev && prev.resolvedAt === undefined) {
      // A repeat of a firing alert: count it, never a new incident.
      prev.count++;
      prev.lastSeen = nowMs;
      prev.alert = { ...alert, startsAt: prev.alert.startsAt };
      const inc = prev.incidentId ? this.incidents.get(prev.incidentId) : undefined;
      if (inc) {
        inc.notifications++;
        inc.lastSeen = nowMs;
        if (severityRank(alert.severity) > severityRank(inc.severity)) {
          inc.severity = alert.severity;
          this.dirty.set(inc.id, nowMs);
        }
      }
      return { action: 'deduplicated', ...(inc ? { incidentId: inc.id } : {}) };
    }
    if (
      prev &&
      prev.resolvedAt !== undefined &&
      nowMs - prev.resolvedAt <= this.o.flapWindowMs &&
      prev.incidentId
    ) {
      const inc = this.incidents.get(prev.incidentId);
      if (inc) return this.flap(alert, prev, inc, nowMs);
    }
    const state: AlertState = { alert, count: 1, firstSeen: nowMs, lastSeen: nowMs, flaps: 0 };
    const binding = this.binder.bind(alert, alert.kind !== 'cost_spike');
    if (binding) {
      state.ci = binding.ci;
      state.bindReason = binding.reason;
      if (binding.discovered) this.discovered.push(binding.discovered);
    }
    this.alerts.set(alert.fingerprint, state);
    const target = this.findIncident(state, nowMs);
    if (target) {
      this.join(
        target,
        state,
        nowMs,
        `alert ${label(alert)} joined${binding ? ` on CI ${this.ciName(binding.ci)} (${binding.reason})` : ''}`,
      );
      return { action: 'joined', incidentId: target.id, ...(binding ? { binding } : {}) };
    }
    const inc = this.open(state, nowMs);
    return { action: 'opened', incidentId: inc.id, ...(binding ? { binding } : {}) };
  }

  private resolveAlert(alert: Alert, prev: AlertState | undefined, nowMs: number): IngestResult {
    if (!prev) {
      // Resolved without a firing we saw (sent before our start, or dropped): nothing to triage.
      this.alerts.set(alert.fingerprint, {
        alert,
        count: 1,
        firstSeen: nowMs,
        lastSeen: nowMs,
        resolvedAt: nowMs,
        flaps: 0,
      });
      return { action: 'ignored' };
    }
    if (prev.resolvedAt !== undefined)
      return { action: 'deduplicated', ...(prev.incidentId ? { incidentId: prev.incidentId } : {}) };
    prev.resolvedAt = nowMs;
    prev.lastSeen = nowMs;
    prev.alert = { ...prev.alert, status: 'resolved', ...(alert.endsAt ? { endsAt: alert.endsAt } : {}) };
    const inc = prev.incidentId ? this.incidents.get(prev.incidentId) : undefined;
    if (inc) {
      inc.timeline.push({ at: iso(nowMs), event: `alert ${label(prev.alert)} resolved` });
      inc.firing = Math.max(0, inc.firing - 1);
      if (inc.firing === 0) inc.allResolvedAt = nowMs;
      this.emit(inc, 'updated');
    }
    return { action: 'resolved', ...(inc ? { incidentId: inc.id } : {}) };
  }

  private flap(alert: Alert, prev: AlertState, inc: IncidentState, nowMs: number): IngestResult {
    prev.resolvedAt = undefined;
    prev.count++;
    prev.flaps++;
    prev.lastSeen = nowMs;
    prev.alert = { ...alert, startsAt: prev.alert.startsAt };
    inc.allResolvedAt = undefined;
    inc.firing++;
    inc.lastSeen = nowMs;
    inc.notifications++;
    if (inc.status === 'resolved') {
      inc.status = 'open';
      inc.resolvedAt = undefined;
      inc.timeline.push({
        at: iso(nowMs),
        event: `re-opened: ${label(alert)} fired again within the flap window`,
      });
      this.indexOpen(inc);
      this.emit(inc, 'reopened');
      return { action: 'reopened', incidentId: inc.id };
    }
    inc.timeline.push({
      at: iso(nowMs),
      event: `alert ${label(alert)} fired again (flapping, ${prev.flaps}x)`,
    });
    this.emit(inc, 'updated');
    return { action: 'flap', incidentId: inc.id };
  }

  /** Auto-resolve quiet incidents, forget alerts that can no longer flap back. */
  tick(nowMs: number): void {
    for (const inc of this.incidents.values()) {
      if (
        inc.status !== 'resolved' &&
        inc.allResolvedAt !== undefined &&
        nowMs - inc.allResolvedAt >= this.o.quietPeriodMs
      ) {
        this.close(
          inc,
          nowMs,
          `auto-resolved: all alerts resolved for ${Math.round(this.o.quietPeriodMs / 60_000)} min`,
        );
      }
    }
    const horizon = nowMs - Math.max(this.o.flapWindowMs, this.o.groupWindowMs);
    for (const [fp, a] of this.alerts) {
      if (a.resolvedAt === undefined || a.resolvedAt > horizon) continue;
      const inc = a.incidentId ? this.incidents.get(a.incidentId) : undefined;
      if (!inc || inc.status === 'resolved') this.alerts.delete(fp);
    }
    for (const [id, inc] of this.incidents) {
      if (inc.status === 'resolved' && (inc.resolvedAt ?? 0) < horizon) {
        // Its alerts may still be in `alerts` (firing ones of a manually resolved incident).
        for (const fp of inc.alerts) if (this.alerts.get(fp)?.incidentId === id) this.alerts.delete(fp);
        this.incidents.delete(id);
      }
    }
    this.changes.prune(nowMs - this.o.changeWindowMs - this.o.groupWindowMs);
  }

  acknowledge(id: string, by: string, nowMs: number, note?: string): Incident | undefined {
    const inc = this.incidents.get(id);
    if (!inc || inc.status !== 'open') return inc && this.snapshot(inc);
    inc.status = 'acknowledged';
    inc.acknowledgedAt = nowMs;
    inc.timeline.push({ at: iso(nowMs), event: `acknowledged by ${by}${note ? `: ${note}` : ''}` });
    this.emit(inc, 'acknowledged');
    return this.snapshot(inc);
  }

  resolve(id: string, by: string, nowMs: number, note?: string): Incident | undefined {
    const inc = this.incidents.get(id);
    if (!inc) return undefined;
    if (inc.status !== 'resolved') this.close(inc, nowMs, `resolved by ${by}${note ? `: ${note}` : ''}`);
    return this.snapshot(inc);
  }

  comment(id: string, by: string, text: string, nowMs: number): Incident | undefined {
    const inc = this.incidents.get(id);
    if (!inc) return undefined;
    inc.timeline.push({ at: iso(nowMs), event: `comment by ${by}: ${text}` });
    this.emit(inc, 'commented');
    return this.snapshot(inc);
  }

  get(id: string): Incident | undefined {
    this.triageDirty();
    const inc = this.incidents.get(id);
    return inc && this.snapshot(inc);
  }

  list(): Incident[] {
    this.triageDirty();
    return [...this.incidents.values()].map((i) => this.snapshot(i));
  }

  /**
   * Triage of incidents whose membership changed. In a storm an incident gains alerts every
   * millisecond; re-ranking it at most every TRIAGE_INTERVAL_MS (alert time) keeps the cost
   * per alert flat, and `force` (get, list) always brings it up to date.
   */
  private triageDirty(force = true): void {
    if (!this.dirty.size) return;
    for (const [id, at] of this.dirty) {
      const inc = this.incidents.get(id);
      if (!inc) {
        this.dirty.delete(id);
        continue;
      }
      if (!force && at - inc.triagedAt < TRIAGE_INTERVAL_MS) continue;
      this.retriage(inc, at);
      this.dirty.delete(id);
    }
  }

  /** Events since the last call (for persistence and notification), oldest first. */
  drain(force = false): IncidentEvent[] {
    this.triageDirty(force);
    for (const inc of this.updated.values())
      this.outbox.push({ type: 'updated', incident: this.snapshot(inc) });
    this.updated.clear();
    return this.outbox.splice(0);
  }

  /** CIs discovered from telemetry since the last call. */
  drainDiscovered(): Ci[] {
    return this.discovered.splice(0);
  }

  /**
   * Rebuild from stored incidents (newest version of each) after a restart: open ones keep
   * grouping, their alerts keep deduplicating.
   */
  restore(incidents: Incident[], alerts: Alert[], nowMs: number): void {
    const byFp = new Map(alerts.map((a) => [a.fingerprint, a]));
    for (const i of incidents) {
      const inc: IncidentState = {
        id: i.id,
        status: i.status,
        severity: i.severity,
        priority: (i.priority as Priority | undefined) ?? 'P3',
        title: i.title,
        alerts: new Set(i.alertFingerprints),
        notifications: i.alertCount,
        cis: new Map(
          (
            i.affected ??
            i.affectedCis.map((ci) => ({ ci, onset: Date.parse(i.firstSeen), maxScore: 0, alerts: 1 }))
          ).map((a) => [a.ci, a]),
        ),
        rootCauses: i.rootCauses,
        blastRadius: i.blastRadius ?? [],
        knownErrors: i.knownErrors.map((k) => ({ ...k, title: k.title ?? '', reason: k.reason ?? '' })),
        changes: i.changes ?? [],
        timeline: i.timeline,
        firstSeen: Date.parse(i.firstSeen),
        lastSeen: Date.parse(i.lastSeen),
        lastJoin: Date.parse(i.lastSeen),
        firing: 0,
        sample: i.alertFingerprints.slice(0, SAMPLE),
        byCi: new Map(),
        triagedAt: 0,
        ...(i.acknowledgedAt ? { acknowledgedAt: Date.parse(i.acknowledgedAt) } : {}),
        ...(i.resolvedAt ? { resolvedAt: Date.parse(i.resolvedAt) } : {}),
        ...(i.costKey ? { costKey: i.costKey } : {}),
        notified: i.notified,
        version: i.version,
      };
      this.incidents.set(inc.id, inc);
      if (inc.status !== 'resolved') this.indexOpen(inc);
      for (const fp of inc.alerts) {
        const a = byFp.get(fp);
        if (!a) continue;
        const ci = this.binder.bind(a);
        this.alerts.set(fp, {
          alert: a,
          count: 1,
          firstSeen: Date.parse(a.startsAt) || inc.firstSeen,
          lastSeen: inc.lastSeen,
          ...(a.status === 'resolved' ? { resolvedAt: a.endsAt ? Date.parse(a.endsAt) : nowMs } : {}),
          incidentId: inc.id,
          ...(ci ? { ci: ci.ci, bindReason: ci.reason } : {}),
          flaps: 0,
        });
      }
      inc.firing = [...inc.alerts].filter((fp) => this.alerts.get(fp)?.resolvedAt === undefined).length;
      if (inc.status !== 'resolved' && this.allResolved(inc)) inc.allResolvedAt ??= nowMs;
    }
    this.drainDiscovered();
  }

  stats(): { alerts: number; incidents: number; open: number } {
    let open = 0;
    for (const i of this.incidents.values()) if (i.status !== 'resolved') open++;
    return { alerts: this.alerts.size, incidents: this.incidents.size, open };
  }

  // --- grouping ---

  private findIncident(a: AlertState, nowMs: number): IncidentState | undefined {
    const since = nowMs - this.o.groupWindowMs;
    if (a.alert.kind === 'cost_spike') {
      const key = costKey(a.alert);
      for (const inc of this.incidents.values())
        if (inc.costKey === key && inc.status !== 'resolved') return inc;
      return undefined;
    }
    let best: { inc: IncidentState; hops: number } | undefined;
    if (a.ci) {
      const near = this.graph.related(a.ci, this.o.maxHops);
      for (const [ci, hops] of near) {
        for (const id of this.openByCi.get(ci) ?? []) {
          const inc = this.incidents.get(id)!;
          // An incident whose alerts have all resolved takes no new ones (only flaps of its own).
          if (inc.lastJoin < since || inc.costKey || inc.allResolvedAt !== undefined) continue;
          if (!best || hops < best.hops || (hops === best.hops && inc.lastSeen > best.inc.lastSeen))
            best = { inc, hops };
        }
      }
    }
    if (best) return best.inc;
    for (const rule of this.o.rules) {
      const values = rule.labels.map((l) => a.alert.labels[l]);
      if (values.some((v) => !v)) continue;
      for (const inc of this.incidents.values()) {
        if (inc.status === 'resolved' || inc.costKey || inc.lastJoin < nowMs - rule.windowMs) continue;
        for (const fp of inc.alerts) {
          const other = this.alerts.get(fp)?.alert;
          if (other && rule.labels.every((l, i) => other.labels[l] === values[i])) return inc;
        }
      }
    }
    return undefined;
  }

  private open(a: AlertState, nowMs: number): IncidentState {
    const inc: IncidentState = {
      id: this.newId(),
      status: 'open',
      severity: a.alert.severity,
      priority: 'P5',
      title: '',
      alerts: new Set(),
      notifications: 0,
      cis: new Map(),
      rootCauses: [],
      blastRadius: [],
      knownErrors: [],
      changes: [],
      timeline: [],
      firstSeen: nowMs,
      lastSeen: nowMs,
      lastJoin: nowMs,
      firing: 0,
      sample: [],
      byCi: new Map(),
      triagedAt: nowMs,
      notified: [],
      version: 0,
    };
    if (a.alert.kind === 'cost_spike') inc.costKey = costKey(a.alert);
    this.incidents.set(inc.id, inc);
    this.join(
      inc,
      a,
      nowMs,
      `opened by ${label(a.alert)}${a.ci ? ` on CI ${this.ciName(a.ci)} (${a.bindReason})` : ''}`,
      true,
    );
    return inc;
  }

  private join(inc: IncidentState, a: AlertState, nowMs: number, event: string, opening = false): void {
    a.incidentId = inc.id;
    inc.alerts.add(a.alert.fingerprint);
    inc.notifications++;
    inc.lastSeen = nowMs;
    inc.lastJoin = nowMs;
    inc.firing++;
    inc.allResolvedAt = undefined;
    inc.severity = worse(inc.severity, a.alert.severity);
    if (inc.sample.length < SAMPLE) inc.sample.push(a.alert.fingerprint);
    if (a.ci) {
      const list = inc.byCi.get(a.ci);
      if (!list) inc.byCi.set(a.ci, [a.alert.fingerprint]);
      else if (list.length < PER_CI) list.push(a.alert.fingerprint);
    }
    const onset = Math.min(nowMs, Date.parse(a.alert.startsAt) || nowMs);
    if (a.ci) {
      const c = inc.cis.get(a.ci);
      if (c) {
        c.onset = Math.min(c.onset, onset);
        c.maxScore = Math.max(c.maxScore, a.alert.score ?? 0);
        c.alerts++;
      } else {
        inc.cis.set(a.ci, { ci: a.ci, onset, maxScore: a.alert.score ?? 0, alerts: 1 });
        this.indexOpen(inc, a.ci);
      }
    }
    inc.timeline.push({ at: iso(nowMs), event });
    // Opening triages at once (one alert: cheap, and the page should carry it); joins during a
    // storm are triaged together at the next drain.
    if (opening) this.retriage(inc, nowMs, true);
    else this.dirty.set(inc.id, nowMs);
  }

  /** Recompute root causes, blast radius, known errors, changes, priority, title. */
  private retriage(inc: IncidentState, nowMs: number, opening = false): void {
    inc.triagedAt = nowMs;
    const prevRoot = inc.rootCauses[0]?.ci;
    const prevPriority = inc.priority;
    const sampled = new Set(inc.sample);
    for (const r of inc.rootCauses.slice(0, 3)) for (const fp of inc.byCi.get(r.ci) ?? []) sampled.add(fp);
    const members = [...sampled].map((fp) => this.alerts.get(fp)?.alert).filter((x): x is Alert => !!x);
    inc.severity = members.reduce<Severity>((s, a) => worse(s, a.severity), inc.severity);
    inc.rootCauses = rankRootCauses([...inc.cis.values()], this.graph, this.changes, {
      changeWindowMs: this.o.changeWindowMs,
      onsetScaleMs: 120_000,
      maxHops: this.o.maxHops,
    }).slice(0, 5);
    const root = inc.rootCauses[0]?.ci;
    const blast = new Set<string>(root ? this.graph.allDependents(root, 5_000) : []);
    for (const ci of inc.cis.keys()) if (ci !== root) blast.add(ci);
    inc.blastRadius = [...blast];
    const cis = [...inc.cis.keys(), ...(root && !inc.cis.has(root) ? [root] : [])]
      .map((id) => this.graph.get(id))
      .filter((c): c is Ci => !!c);
    inc.knownErrors = this.kedb.size
      ? this.kedb.match(
          members.map((alert) => {
            const ci = this.alerts.get(alert.fingerprint)?.ci;
            const node = ci ? this.graph.get(ci) : undefined;
            return { alert, ...(node ? { ci: node } : {}), onRoot: !!ci && ci === root };
          }),
        )
      : [];
    inc.changes = this.linkChanges(inc);
    const crit = [...cis, ...inc.blastRadius.map((id) => this.graph.get(id)).filter((c): c is Ci => !!c)].map(
      (c) => c.criticality,
    );
    inc.priority = priorityOf(crit, blast.size + (root ? 1 : 0), inc.severity);
    inc.title = this.title(inc, members);
    if (opening) {
      this.emit(inc, 'opened');
      return;
    }
    if (root !== prevRoot) {
      inc.timeline.push({ at: iso(nowMs), event: `root cause now ${root ? this.ciName(root) : 'unknown'}` });
      this.emit(inc, 'root_cause_changed');
    } else if (inc.priority !== prevPriority) {
      inc.timeline.push({ at: iso(nowMs), event: `priority ${prevPriority} → ${inc.priority}` });
      this.emit(inc, 'priority_changed');
    } else {
      this.emit(inc, 'updated');
    }
  }

  private linkChanges(inc: IncidentState): NonNullable<Incident['changes']> {
    const root = inc.rootCauses[0]?.ci;
    const t0 = Math.min(...[...inc.cis.values()].map((c) => c.onset), inc.firstSeen);
    const cands = new Set<string>([...inc.cis.keys(), ...inc.rootCauses.map((r) => r.ci)]);
    const out: NonNullable<Incident['changes']> = [];
    for (const ci of cands) {
      for (const c of this.changes.before(ci, t0 + 60_000, this.o.changeWindowMs)) {
        const age = Math.max(0, t0 - c.time);
        const score = (ci === root ? 1 : 0.5) * (1 - 0.7 * (age / this.o.changeWindowMs));
        out.push({
          id: c.id,
          ci,
          time: iso(c.time),
          kind: c.kind,
          description: c.description,
          link: c.link,
          score: Math.round(score * 1000) / 1000,
        });
      }
    }
    return out.sort((a, b) => b.score - a.score).slice(0, 5);
  }

  private title(inc: IncidentState, members: Alert[]): string {
    const root = inc.rootCauses[0]?.ci;
    const onRoot = (root ? (inc.byCi.get(root) ?? []) : [])
      .map((fp) => this.alerts.get(fp)?.alert)
      .filter((x): x is Alert => !!x);
    const first = [...(onRoot.length ? onRoot : members)].sort(
      (a, b) => severityRank(b.severity) - severityRank(a.severity),
    )[0];
    const symptom = first ? (first.annotations.summary ?? first.labels.alertname ?? first.kind) : 'alerts';
    const rest = inc.alerts.size - 1;
    const where = root ? `${this.ciName(root)}: ` : '';
    return `${where}${symptom}${rest > 0 ? ` (+${rest} alert${rest > 1 ? 's' : ''} on ${inc.cis.size} CI${inc.cis.size === 1 ? '' : 's'})` : ''}`.slice(
      0,
      300,
    );
  }

  private close(inc: IncidentState, nowMs: number, event: string): void {
    inc.status = 'resolved';
    inc.resolvedAt = nowMs;
    inc.timeline.push({ at: iso(nowMs), event });
    for (const ci of inc.cis.keys()) this.openByCi.get(ci)?.delete(inc.id);
    this.emit(inc, 'resolved');
  }

  private indexOpen(inc: IncidentState, only?: string): void {
    for (const ci of only ? [only] : inc.cis.keys()) {
      let s = this.openByCi.get(ci);
      if (!s) this.openByCi.set(ci, (s = new Set()));
      s.add(inc.id);
    }
  }

  private allResolved(inc: IncidentState): boolean {
    for (const fp of inc.alerts) if (this.alerts.get(fp)?.resolvedAt === undefined) return false;
    return true;
  }

  private emit(inc: IncidentState, type: IncidentEventType): void {
    inc.version++;
    // Plain updates coalesce (the store keeps the newest version anyway); transitions people are
    // notified about keep their own snapshot.
    if (type === 'updated') {
      this.updated.set(inc.id, inc);
      return;
    }
    this.updated.delete(inc.id);
    this.outbox.push({ type, incident: this.snapshot(inc) });
  }

  private ciName(id: string): string {
    return this.graph.get(id)?.name ?? id;
  }

  private snapshot(inc: IncidentState): Incident {
    const rootCi = inc.rootCauses[0] && this.graph.get(inc.rootCauses[0].ci);
    const service = rootCi ? rootCi.service || rootCi.name : undefined;
    return {
      id: inc.id,
      status: inc.status,
      severity: inc.severity,
      priority: inc.priority,
      title: inc.title,
      alertFingerprints: [...inc.alerts],
      alertCount: inc.notifications,
      affectedCis: [...inc.cis.keys()],
      affected: [...inc.cis.values()].map((c) => ({ ...c })),
      rootCauses: inc.rootCauses,
      blastRadius: inc.blastRadius,
      knownErrors: inc.knownErrors,
      changes: inc.changes,
      timeline: [...inc.timeline],
      firstSeen: iso(inc.firstSeen),
      lastSeen: iso(inc.lastSeen),
      ...(inc.acknowledgedAt ? { acknowledgedAt: iso(inc.acknowledgedAt) } : {}),
      ...(inc.resolvedAt ? { resolvedAt: iso(inc.resolvedAt) } : {}),
      ...(inc.costKey ? { costKey: inc.costKey } : {}),
      ...(service ? { service } : {}),
      notified: inc.notified,
      version: inc.version,
    };
  }
}

/** At most one re-ranking of an incident per this much alert time while it grows. */
const TRIAGE_INTERVAL_MS = 5000;
/** Alerts triage reads per incident: the first SAMPLE, and up to PER_CI of each root-cause CI. */
const SAMPLE = 100;
const PER_CI = 5;

const iso = (ms: number) => new Date(ms).toISOString();
const label = (a: Alert) => `${a.labels.alertname ?? a.kind}${a.service ? ` on ${a.service}` : ''}`;

/** Cost alerts: one incident per account, service and day. */
function costKey(a: Alert): string {
  const l = a.labels;
  const account = l.SubAccountId ?? l.sub_account_id ?? l.account ?? '';
  const service = a.service ?? l.ServiceName ?? l.service ?? '';
  return `${account}|${service}|${a.startsAt.slice(0, 10)}`;
}
