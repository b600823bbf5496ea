import { performance } from 'node:perf_hooks';
import type { Alert } from '../core/model/records.ts';
import { Correlator } from '../correlate/engine/correlator.ts';
import { KnownErrorMatcher } from '../correlate/engine/kedb.ts';
import { Random } from '../eval/correlate/random.ts';

/**
 * npm run bench:correlate — alerts/s through dedup and grouping on a 5,000-CI topology, the
 * alert→incident latency (the correlator's ingest call, triage included) p50/p99, peak RSS.
 * Baseline in the same run: a Map-only dedup of the same alerts (what any alert pipeline does
 * at least), so the ratio shows what grouping and triage cost on top.
 */
const r = new Random(42);
const N_CI = 5000;
const c = new Correlator(
  {},
  {
    kedb: new KnownErrorMatcher([
      {
        id: 'KE1',
        title: 'db pool exhausted',
        symptoms: ['alertname=DBConnectionsExhausted'],
        scope: ['database'],
        workaround: 'x',
        problemRef: '',
        status: 'open',
      },
    ]),
  },
);
const ids: string[] = [];
for (let i = 0; i < N_CI; i++) {
  const cls = i < 300 ? 'database' : i < 600 ? 'server' : 'service';
  const id = `${cls}-${i}`;
  ids.push(id);
  c.graph.addCi({
    id,
    name: id,
    class: cls,
    service: id,
    criticality: r.pick(['critical', 'high', 'medium', 'low'] as const),
    attributes: {},
  });
}
for (let i = 600; i < N_CI; i++) {
  for (let k = 0; k < 2; k++)
    c.graph.addRelation({ parent: ids[i]!, child: ids[r.int(0, 299)]!, type: 'depends_on' });
  if (i > 700 && r.chance(0.5))
    c.graph.addRelation({ parent: ids[i]!, child: ids[r.int(600, i - 1)]!, type: 'depends_on' });
}
for (let i = 0; i < 300; i++)
  c.graph.addRelation({ parent: ids[i]!, child: ids[r.int(300, 599)]!, type: 'hosted_on' });
c.cmdbChanged();

// 200k notifications: storms around failing databases (new alerts on dependents), repeats of
// firing alerts (most of an alert stream), resolves.
const TOTAL = Number(process.env.BENCH_ALERTS ?? 200_000);
const alerts: Alert[] = [];
const firing: Alert[] = [];
let t0 = Date.parse('2026-01-01T00:00:00Z');
for (let i = 0; i < TOTAL; i++) {
  const roll = r.next();
  let a: Alert;
  if (roll < 0.6 && firing.length) a = r.pick(firing);
  else if (roll < 0.7 && firing.length) {
    const k = r.int(0, firing.length - 1);
    a = { ...firing[k]!, status: 'resolved' };
    firing.splice(k, 1);
  } else {
    const ci = ids[roll < 0.75 ? r.int(0, 299) : r.int(600, N_CI - 1)]!;
    a = {
      fingerprint: `fp-${i}`,
      source: 'bench',
      kind: 'metric_anomaly',
      status: 'firing',
      severity: r.pick(['critical', 'warning'] as const),
      service: ci,
      labels: {
        alertname: ci.startsWith('database') ? 'DBConnectionsExhausted' : 'HighErrorRatio',
        service: ci,
      },
      annotations: { summary: `${ci} failing` },
      startsAt: new Date(t0).toISOString(),
    };
    firing.push(a);
    if (firing.length > 2000) firing.shift();
  }
  alerts.push(a);
}

function baseline(): number {
  const seen = new Map<string, number>();
  const start = performance.now();
  for (const a of alerts) seen.set(a.fingerprint, (seen.get(a.fingerprint) ?? 0) + 1);
  return alerts.length / ((performance.now() - start) / 1000);
}

const lat = new Float64Array(TOTAL);
let peak = process.memoryUsage().rss;
let lastTick = t0;
const start = performance.now();
for (let i = 0; i < TOTAL; i++) {
  t0 += 5; // 200 alerts per simulated second
  const s = performance.now();
  c.ingest(alerts[i]!, t0);
  lat[i] = performance.now() - s;
  // A bus batch of 1,024 alerts ends with a drain (as the role's handler does); the role's
  // tick runs every 10 s, here every 10 s of alert time.
  if ((i & 1023) === 0) {
    c.drain();
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  if (t0 - lastTick >= 10_000) {
    c.tick(t0);
    lastTick = t0;
  }
}
const secs = (performance.now() - start) / 1000;
const rate = TOTAL / secs;
const base = baseline();
lat.sort();
const q = (p: number) => lat[Math.min(TOTAL - 1, Math.floor(p * TOTAL))]!;
const st = c.stats();
console.log(
  `topology: ${N_CI} CIs; ${TOTAL} alert notifications; ${st.incidents} incidents kept (${st.open} open)`,
);
console.log(
  `correlator: ${Math.round(rate)} alerts/s (${secs.toFixed(2)} s), latency p50 ${q(0.5).toFixed(3)} ms, p99 ${q(0.99).toFixed(3)} ms, max ${lat[TOTAL - 1]!.toFixed(1)} ms`,
);
console.log(
  `baseline (Map dedup only): ${Math.round(base)} alerts/s; ratio correlator/baseline ${(rate / base).toFixed(3)}`,
);
console.log(`peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB; targets: 20000 alerts/s, p99 < 100 ms`);
