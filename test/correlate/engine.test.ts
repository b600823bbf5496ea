import { describe, expect, it } from 'vitest';
import type { Alert, Severity } from '../../core/model/records.ts';
import { Correlator } from '../../correlate/engine/correlator.ts';
import { CiGraph } from '../../correlate/engine/graph.ts';
import type { Ci, Criticality } from '../../correlate/engine/model.ts';
import { priorityOf } from '../../correlate/engine/priority.ts';

/** The correlator's logic on a small estate: web -> api-a -> db, api-b -> db, db hosted on host-1; mail alone. */

const T0 = Date.parse('2026-11-23T10:00:00Z');
const min = 60_000;

function ci(id: string, cls: string, criticality: Criticality = 'medium', service = id): Ci {
  return { id, name: id, class: cls, service, criticality, attributes: {} };
}

function estate(): CiGraph {
  const g = new CiGraph();
  for (const c of [
    ci('web', 'service', 'high'),
    ci('api-a', 'service'),
    ci('api-b', 'service'),
    ci('db', 'database', 'critical', 'orders-db'),
    ci('host-1', 'server', 'medium', ''),
    ci('mail', 'service', 'low'),
  ])
    g.addCi(c);
  g.addRelation({ parent: 'web', child: 'api-a', type: 'depends_on' });
  g.addRelation({ parent: 'api-a', child: 'db', type: 'depends_on' });
  g.addRelation({ parent: 'api-b', child: 'db', type: 'depends_on' });
  g.addRelation({ parent: 'db', child: 'host-1', type: 'hosted_on' });
  return g;
}

let n = 0;
function alert(
  service: string,
  alertname: string,
  at: number,
  extra: Partial<Alert> = {},
  severity: Severity = 'critical',
): Alert {
  return {
    fingerprint: extra.fingerprint ?? `fp-${service}-${alertname}-${n++}`,
    source: 'test',
    kind: 'metric_anomaly',
    status: 'firing',
    severity,
    service,
    labels: { alertname, service, ...(extra.labels ?? {}) },
    annotations: { summary: `${alertname} on ${service}`, ...(extra.annotations ?? {}) },
    startsAt: new Date(at).toISOString(),
    ...extra,
  };
}

describe('correlator', () => {
  it('groups a cascading database outage into one incident with the database as root cause', () => {
    const c = new Correlator({}, { graph: estate() });
    c.changes.add({
      id: 'CHG1',
      ci: 'db',
      time: T0 - 10 * min,
      kind: 'deployment',
      description: 'db upgrade',
      link: '',
    });
    c.changes.add({
      id: 'CHG0',
      ci: 'mail',
      time: T0 - 10 * min,
      kind: 'deployment',
      description: 'unrelated',
      link: '',
    });
    const r1 = c.ingest(alert('api-a', 'HighErrorRatio', T0 + 20_000), T0 + 20_000);
    const r2 = c.ingest(alert('orders-db', 'DatabaseDown', T0), T0 + 30_000);
    const r3 = c.ingest(alert('api-b', 'HighLatency', T0 + 40_000, {}, 'warning'), T0 + 40_000);
    const r4 = c.ingest(alert('web', 'HighErrorRatio', T0 + 60_000), T0 + 60_000);
    const other = c.ingest(alert('mail', 'QueueBacklog', T0 + 61_000, {}, 'warning'), T0 + 61_000);
    expect(r1.action).toBe('opened');
    expect([r2, r3, r4].map((r) => r.action)).toEqual(['joined', 'joined', 'joined']);
    expect(new Set([r1, r2, r3, r4].map((r) => r.incidentId)).size).toBe(1);
    expect(other.action).toBe('opened');
    expect(other.incidentId).not.toBe(r1.incidentId);
    expect(r2.binding?.reason).toMatch(/orders-db is the service of CI db/);

    const inc = c.get(r1.incidentId!)!;
    expect(inc.rootCauses[0]!.ci).toBe('db');
    expect(inc.rootCauses[0]!.reason).toMatch(/3 of 3 other affected CIs depend on it/);
    expect(inc.rootCauses[0]!.reason).toMatch(/CHG1/);
    expect(new Set(inc.blastRadius)).toEqual(new Set(['api-a', 'api-b', 'web']));
    expect(inc.changes!.map((x) => x.id)).toEqual(['CHG1']);
    expect(inc.priority).toBe('P1');
    expect(inc.title).toMatch(/^db: DatabaseDown on orders-db \(\+3 alerts on 4 CIs\)/);
    const types = c.drain().map((e) => e.type);
    expect(types.filter((t) => t === 'opened')).toHaveLength(2);
    expect(types).toContain('root_cause_changed');
  });

  it('deduplicates repeats, takes a flapping alert back, and re-opens a resolved incident within the flap window', () => {
    const c = new Correlator({ flapWindowMs: 15 * min, quietPeriodMs: 5 * min }, { graph: estate() });
    const a = alert('mail', 'QueueBacklog', T0, { fingerprint: 'fp-mail' });
    const id = c.ingest(a, T0).incidentId!;
    for (let i = 1; i <= 5; i++)
      expect(c.ingest(a, T0 + i * 1000)).toEqual({ action: 'deduplicated', incidentId: id });
    expect(c.get(id)!.alertCount).toBe(6);
    expect(c.stats().incidents).toBe(1);

    expect(c.ingest({ ...a, status: 'resolved' }, T0 + min).action).toBe('resolved');
    expect(c.ingest(a, T0 + 2 * min)).toEqual({ action: 'flap', incidentId: id });
    c.ingest({ ...a, status: 'resolved' }, T0 + 3 * min);
    c.tick(T0 + 4 * min);
    expect(c.get(id)!.status).toBe('open'); // quiet period not over
    c.tick(T0 + 9 * min);
    expect(c.get(id)!.status).toBe('resolved');
    expect(c.ingest(a, T0 + 12 * min)).toEqual({ action: 'reopened', incidentId: id });
    expect(c.get(id)!.status).toBe('open');
    // Long after: a new episode is a new incident.
    c.ingest({ ...a, status: 'resolved' }, T0 + 13 * min);
    c.tick(T0 + 20 * min);
    c.tick(T0 + 60 * min);
    const again = c.ingest(a, T0 + 61 * min);
    expect(again.action).toBe('opened');
    expect(again.incidentId).not.toBe(id);
  });

  it('does not group CIs farther apart than maxHops, nor alerts outside the group window', () => {
    const c = new Correlator({ maxHops: 1 }, { graph: estate() });
    const web = c.ingest(alert('web', 'HighErrorRatio', T0), T0);
    const db = c.ingest(alert('orders-db', 'DatabaseDown', T0), T0 + 1000); // web -> api-a -> db: 2 hops
    expect(db.incidentId).not.toBe(web.incidentId);
    const c2 = new Correlator({ groupWindowMs: 5 * min }, { graph: estate() });
    const x = c2.ingest(alert('api-a', 'HighErrorRatio', T0), T0);
    const y = c2.ingest(alert('api-b', 'HighErrorRatio', T0 + 20 * min), T0 + 20 * min);
    expect(y.incidentId).not.toBe(x.incidentId);
  });

  it('groups by correlation rule, cost alerts per account, service and day, and registers unknown services', () => {
    const c = new Correlator(
      { rules: [{ name: 'same cluster', labels: ['cluster'], windowMs: 5 * min }] },
      { graph: estate() },
    );
    const a = c.ingest(
      alert('', 'NodeNotReady', T0, {
        service: undefined,
        labels: { cluster: 'k1', alertname: 'NodeNotReady' },
      }),
      T0,
    );
    const b = c.ingest(
      alert('', 'PodCrashLooping', T0, {
        service: undefined,
        labels: { cluster: 'k1', alertname: 'PodCrashLooping' },
      }),
      T0 + min,
    );
    const d = c.ingest(
      alert('', 'PodCrashLooping', T0, {
        service: undefined,
        labels: { cluster: 'k2', alertname: 'PodCrashLooping' },
      }),
      T0 + min,
    );
    expect(b.incidentId).toBe(a.incidentId);
    expect(d.incidentId).not.toBe(a.incidentId);

    const cost = (account: string, day: string, sku: string) =>
      alert('AmazonEC2', 'CostSpike', Date.parse(`${day}T00:00:00Z`), {
        kind: 'cost_spike',
        labels: { SubAccountId: account, sku, alertname: 'CostSpike' },
      });
    const k1 = c.ingest(cost('111', '2026-11-20', 'g5'), T0);
    const k2 = c.ingest(cost('111', '2026-11-20', 'm5'), T0);
    const k3 = c.ingest(cost('222', '2026-11-20', 'g5'), T0);
    const k4 = c.ingest(cost('111', '2026-11-21', 'g5'), T0);
    expect(k2.incidentId).toBe(k1.incidentId);
    expect(new Set([k1.incidentId, k3.incidentId, k4.incidentId]).size).toBe(3);

    const u = c.ingest(alert('payments', 'HighErrorRatio', T0), T0);
    expect(u.binding).toMatchObject({
      ci: 'discovered:payments',
      reason: expect.stringMatching(/not in the CMDB/),
    });
    expect(c.drainDiscovered().map((x) => x.id)).toEqual(['discovered:payments']);
  });

  it('names a silent shared dependency as a root-cause candidate', () => {
    const c = new Correlator({}, { graph: estate() });
    const a = c.ingest(alert('api-a', 'HighErrorRatio', T0), T0);
    c.ingest(alert('api-b', 'HighErrorRatio', T0 + 5000), T0 + 5000);
    const inc = c.get(a.incidentId!)!;
    const db = inc.rootCauses.find((r) => r.ci === 'db');
    expect(db?.reason).toMatch(/raised no alert/);
    expect(inc.rootCauses[0]!.ci).toBe('db');
  });

  it('attaches a matching known error with its workaround, and none below the threshold or out of scope', () => {
    const c = new Correlator({}, { graph: estate() });
    c.kedb.load([
      {
        id: 'KE1',
        title: 'Database connection pool exhausted',
        symptoms: ['alertname=DatabaseDown', 'annotation.summary~connection'],
        scope: ['database'],
        workaround: 'Restart the pool',
        problemRef: 'PRB1',
        status: 'open',
      },
      {
        id: 'KE2',
        title: 'Mail queue stuck',
        symptoms: ['alertname=QueueBacklog'],
        scope: ['mail'],
        workaround: 'Flush',
        problemRef: 'PRB2',
        status: 'open',
      },
      {
        id: 'KE3',
        title: 'Disk full on database hosts',
        symptoms: ['alertname=DiskFull', 'label.mountpoint=/var'],
        scope: ['database'],
        workaround: 'Clean',
        problemRef: 'PRB3',
        status: 'open',
      },
    ]);
    const r = c.ingest(
      alert('orders-db', 'DatabaseDown', T0, { annotations: { summary: 'connection refused by orders-db' } }),
      T0,
    );
    const inc = c.get(r.incidentId!)!;
    expect(inc.knownErrors.map((k) => k.id)).toEqual(['KE1']);
    expect(inc.knownErrors[0]!.workaround).toBe('Restart the pool');
    const m = c.ingest(alert('api-b', 'QueueBacklog', T0 + 50 * min), T0 + 50 * min); // KE2's alertname, out of scope
    expect(c.get(m.incidentId!)!.knownErrors).toEqual([]);
  });

  it('recovers open incidents after a restart: repeats deduplicate into them, new related alerts join', () => {
    const c = new Correlator({}, { graph: estate() });
    const a = alert('orders-db', 'DatabaseDown', T0);
    const id = c.ingest(a, T0).incidentId!;
    const stored = c.list();
    const d = new Correlator({}, { graph: estate() });
    d.restore(stored, [a], T0 + min);
    expect(d.ingest(a, T0 + 2 * min)).toEqual({ action: 'deduplicated', incidentId: id });
    expect(d.ingest(alert('api-a', 'HighErrorRatio', T0 + 2 * min), T0 + 2 * min)).toMatchObject({
      action: 'joined',
      incidentId: id,
    });
  });

  it('acknowledges, comments and resolves with a timeline from which MTTA and MTTR follow', () => {
    const c = new Correlator({}, { graph: estate() });
    const id = c.ingest(alert('web', 'HighErrorRatio', T0), T0).incidentId!;
    c.acknowledge(id, 'alice', T0 + 3 * min);
    c.comment(id, 'alice', 'rolling back', T0 + 4 * min);
    const done = c.resolve(id, 'alice', T0 + 20 * min, 'rolled back')!;
    expect(done.status).toBe('resolved');
    expect(Date.parse(done.acknowledgedAt!) - Date.parse(done.firstSeen)).toBe(3 * min);
    expect(Date.parse(done.resolvedAt!) - Date.parse(done.firstSeen)).toBe(20 * min);
    expect(done.timeline.map((t) => t.event)).toEqual([
      expect.stringMatching(/^opened by HighErrorRatio on web/),
      'acknowledged by alice',
      'comment by alice: rolling back',
      'resolved by alice: rolled back',
    ]);
  });
});

describe('priority', () => {
  it('follows the impact × urgency matrix', () => {
    expect(priorityOf(['critical'], 1, 'critical')).toBe('P1');
    expect(priorityOf(['low'], 1, 'warning')).toBe('P5');
    expect(priorityOf(['medium'], 1, 'error')).toBe('P3');
    expect(priorityOf(['low'], 6, 'critical')).toBe('P2'); // wide blast radius raises impact
  });
});
