import type { Alert, Severity } from '../../core/model/records.ts';
import type { Change, Ci, CiRelation, Criticality, KnownError } from '../../correlate/engine/model.ts';
import { Random } from './random.ts';

/**
 * A synthetic estate and a day of trouble, drawn from a seed: a layered microservice topology
 * (frontends → services → data stores → hosts) as a CMDB, a KEDB, faults injected into one CI
 * that propagate to its dependents with delays, unrelated noise alerts, flapping alerts and
 * changes (the culprit's deploy before some faults, unrelated deploys all day). Every alert
 * notification carries its true group (the fault, or its own noise group).
 */

export interface ScenarioEvent {
  at: number;
  alert: Alert;
  /** Ground truth: fault id, or `noise:<n>` (each noise episode its own group). */
  group: string;
}

export interface Fault {
  id: string;
  ci: string;
  kind: string;
  onset: number;
  /** The known error that describes it, if the KEDB has one. */
  knownError?: string;
  /** The change that caused it, if any. */
  change?: string;
  /** The root CI raised no alert of its own. */
  silent: boolean;
}

export interface Scenario {
  cis: Ci[];
  relations: CiRelation[];
  knownErrors: KnownError[];
  changes: Change[];
  faults: Fault[];
  events: ScenarioEvent[];
}

interface FaultKind {
  name: string;
  classes: string[];
  alertname: string;
  summary: string;
  /** Has a known error in the KEDB (id KE-<name>). */
  known: boolean;
  /** Caused by a deploy on the CI. */
  deploy: number;
}

const FAULT_KINDS: FaultKind[] = [
  {
    name: 'db-pool',
    classes: ['database'],
    alertname: 'DBConnectionsExhausted',
    summary: 'connection pool exhausted',
    known: true,
    deploy: 0.3,
  },
  {
    name: 'db-down',
    classes: ['database'],
    alertname: 'PostgresDown',
    summary: 'database not answering',
    known: true,
    deploy: 0.5,
  },
  {
    name: 'db-slow',
    classes: ['database'],
    alertname: 'SlowQueries',
    summary: 'queries slower than usual',
    known: false,
    deploy: 0.6,
  },
  {
    name: 'cache-down',
    classes: ['cache'],
    alertname: 'RedisDown',
    summary: 'cache unreachable',
    known: true,
    deploy: 0.2,
  },
  {
    name: 'queue-backlog',
    classes: ['queue'],
    alertname: 'QueueBacklog',
    summary: 'consumer lag growing',
    known: false,
    deploy: 0.3,
  },
  {
    name: 'host-disk',
    classes: ['server'],
    alertname: 'DiskFull',
    summary: 'filesystem almost full',
    known: true,
    deploy: 0,
  },
  {
    name: 'host-down',
    classes: ['server'],
    alertname: 'HostDown',
    summary: 'host unreachable',
    known: false,
    deploy: 0,
  },
  {
    name: 'svc-oom',
    classes: ['service'],
    alertname: 'OOMKilled',
    summary: 'container killed, out of memory',
    known: true,
    deploy: 0.7,
  },
  {
    name: 'svc-errors',
    classes: ['service'],
    alertname: 'HighErrorRatio',
    summary: 'error ratio above 5%',
    known: false,
    deploy: 0.7,
  },
];

const SYMPTOMS = [
  { alertname: 'HighErrorRatio', summary: 'error ratio above 5%', severity: 'critical' as Severity },
  { alertname: 'HighLatency', summary: 'p99 latency above 1s', severity: 'warning' as Severity },
  { alertname: 'ErrorBudgetBurn', summary: 'error budget burning', severity: 'critical' as Severity },
];

const NOISE = [
  'CPUThrottling',
  'PodRestarted',
  'CertificateExpiresSoon',
  'HighLatency',
  'DiskFull',
  'NTPDrift',
];

const CRIT: Criticality[] = ['critical', 'high', 'medium', 'low'];
const MIN = 60_000;

export function buildScenario(seed: number, start = Date.parse('2026-01-05T00:00:00Z')): Scenario {
  const r = new Random(seed);
  const cis: Ci[] = [];
  const relations: CiRelation[] = [];
  const ci = (id: string, cls: string, criticality: Criticality): Ci => {
    const c: Ci = {
      id,
      name: id,
      class: cls,
      service: cls === 'server' ? undefined : id,
      criticality,
      attributes: {},
    };
    if (!c.service) delete c.service;
    cis.push(c);
    return c;
  };
  const rel = (parent: string, child: string, type: string) => relations.push({ parent, child, type });

  const hosts = Array.from({ length: r.int(3, 8) }, (_, i) => ci(`host-${i}`, 'server', r.pick(CRIT)));
  const stores = [
    ...Array.from({ length: r.int(2, 5) }, (_, i) =>
      ci(`db-${i}`, 'database', r.pick(['critical', 'high'] as const)),
    ),
    ...Array.from({ length: r.int(1, 3) }, (_, i) => ci(`cache-${i}`, 'cache', r.pick(CRIT))),
    ...Array.from({ length: r.int(1, 2) }, (_, i) => ci(`queue-${i}`, 'queue', r.pick(CRIT))),
  ];
  for (const s of stores) rel(s.id, r.pick(hosts).id, 'hosted_on');
  const backends = Array.from({ length: r.int(8, 30) }, (_, i) => ci(`svc-${i}`, 'service', r.pick(CRIT)));
  for (const b of backends) {
    for (const s of r.sample(stores, r.int(1, 2))) rel(b.id, s.id, 'depends_on');
    if (r.chance(0.3)) rel(b.id, r.pick(hosts).id, 'runs_on');
  }
  // Some backends call others (lower index only: no cycles).
  backends.forEach((b, i) => {
    if (i > 2 && r.chance(0.4)) rel(b.id, backends[r.int(0, i - 1)]!.id, 'depends_on');
  });
  const fronts = Array.from({ length: r.int(2, 4) }, (_, i) =>
    ci(`web-${i}`, 'service', r.pick(['critical', 'high'] as const)),
  );
  for (const f of fronts) for (const b of r.sample(backends, r.int(2, 4))) rel(f.id, b.id, 'depends_on');

  const knownErrors: KnownError[] = FAULT_KINDS.filter((k) => k.known).map((k) => ({
    id: `KE-${k.name}`,
    title: `${k.summary} on ${k.classes[0]}`,
    symptoms: [`alertname=${k.alertname}`],
    scope: k.classes,
    workaround: `runbook for ${k.name}`,
    problemRef: `PRB-${k.name}`,
    status: 'open',
  }));
  // Decoys: same class, symptoms that this scenario never raises.
  knownErrors.push(
    {
      id: 'KE-decoy-1',
      title: 'replication lag after failover',
      symptoms: ['alertname=ReplicationLag'],
      scope: ['database'],
      workaround: 'x',
      problemRef: '',
      status: 'open',
    },
    {
      id: 'KE-decoy-2',
      title: 'TLS handshake failures',
      symptoms: ['alertname=TLSErrors', 'annotation.summary~handshake'],
      scope: [],
      workaround: 'x',
      problemRef: '',
      status: 'open',
    },
  );

  const byId = new Map(cis.map((c) => [c.id, c]));
  const dependents = new Map<string, string[]>();
  for (const x of relations) dependents.set(x.child, [...(dependents.get(x.child) ?? []), x.parent]);

  const changes: Change[] = [];
  const faults: Fault[] = [];
  const events: ScenarioEvent[] = [];
  let fp = 0;
  const alert = (
    c: Ci,
    alertname: string,
    summary: string,
    severity: Severity,
    at: number,
    score: number,
  ): Alert => ({
    fingerprint: `fp-${seed}-${fp++}`,
    source: 'scenario',
    kind: 'metric_anomaly',
    status: 'firing',
    severity,
    ...(c.service ? { service: c.service } : {}),
    labels: { alertname, ...(c.service ? { service: c.service } : { instance: `${c.id}:9100` }) },
    annotations: { summary: `${c.id}: ${summary}` },
    startsAt: new Date(at).toISOString(),
    score,
  });
  /** firing at `at`, repeats every 5 min, resolved at `end`; sometimes flaps once. */
  const episode = (a: Alert, at: number, end: number, group: string) => {
    events.push({ at, alert: a, group });
    for (let t = at + 5 * MIN; t < end; t += 5 * MIN) events.push({ at: t, alert: a, group });
    if (r.chance(0.15) && end - at > 6 * MIN) {
      const mid = at + Math.floor((end - at) / 2);
      events.push({
        at: mid,
        alert: { ...a, status: 'resolved', endsAt: new Date(mid).toISOString() },
        group,
      });
      events.push({ at: mid + r.int(1, 4) * MIN, alert: a, group });
    }
    events.push({ at: end, alert: { ...a, status: 'resolved', endsAt: new Date(end).toISOString() }, group });
  };

  // Faults through a day, 25–60 minutes apart.
  const nFaults = r.int(10, 20);
  let t = start + r.int(10, 30) * MIN;
  for (let i = 0; i < nFaults; i++) {
    const kind = r.pick(FAULT_KINDS);
    const candidates = cis.filter(
      (c) => kind.classes.includes(c.class) && (dependents.get(c.id)?.length ?? 0) > 0,
    );
    if (!candidates.length) continue;
    const root = r.pick(candidates);
    const onset = t;
    const end = onset + r.int(8, 30) * MIN;
    const f: Fault = { id: `fault-${i}`, ci: root.id, kind: kind.name, onset, silent: false };
    if (kind.known) f.knownError = `KE-${kind.name}`;
    if (r.chance(kind.deploy)) {
      const c: Change = {
        id: `CHG-${i}`,
        ci: root.id,
        time: onset - r.int(3, 50) * MIN,
        kind: 'deployment',
        description: `deploy ${root.id}`,
        link: '',
      };
      changes.push(c);
      f.change = c.id;
    }
    // A data store or host failing without an alert of its own is common (no exporter on it).
    f.silent = root.class !== 'service' && r.chance(0.1);
    if (!f.silent)
      episode(alert(root, kind.alertname, kind.summary, 'critical', onset, 0.9), onset, end, f.id);
    // Propagation to dependents, hop by hop, each hop 30–150 s later, 75% of them alerting.
    let frontier = [root.id];
    const seen = new Set(frontier);
    for (let hop = 1; hop <= 3 && frontier.length; hop++) {
      const next: string[] = [];
      for (const id of frontier) {
        for (const d of dependents.get(id) ?? []) {
          if (seen.has(d)) continue;
          seen.add(d);
          next.push(d);
          if (!r.chance(hop === 1 ? 0.85 : 0.6)) continue;
          const at = onset + hop * r.int(30, 150) * 1000;
          const s = r.pick(SYMPTOMS);
          episode(
            alert(byId.get(d)!, s.alertname, s.summary, s.severity, at, 0.5 + r.next() * 0.4),
            at,
            end + r.int(0, 3) * MIN,
            f.id,
          );
        }
      }
      frontier = next;
    }
    faults.push(f);
    t = end + r.int(25, 60) * MIN;
  }
  const dayEnd = t;
  // Unrelated deploys all day long.
  for (let i = 0; i < r.int(10, 25); i++) {
    const c = r.pick(cis);
    changes.push({
      id: `CHG-n${i}`,
      ci: c.id,
      time: r.int(start, dayEnd),
      kind: 'deployment',
      description: `routine deploy ${c.id}`,
      link: '',
    });
  }
  // Noise: lone alerts on random CIs at random times.
  for (let i = 0; i < r.int(10, 30); i++) {
    const c = r.pick(cis);
    const at = r.int(start, dayEnd);
    const name = r.pick(NOISE);
    episode(
      alert(c, name, `${name} (unrelated)`, r.pick(['warning', 'info'] as const), at, 0.3),
      at,
      at + r.int(3, 20) * MIN,
      `noise:${i}`,
    );
  }
  events.sort((a, b) => a.at - b.at);
  return { cis, relations, knownErrors, changes, faults, events };
}
