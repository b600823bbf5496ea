import type { Incident } from '../../core/model/records.ts';
import { Correlator, type CorrelatorOptions } from '../../correlate/engine/correlator.ts';
import { KnownErrorMatcher } from '../../correlate/engine/kedb.ts';
import type { Scenario } from './scenario.ts';

/**
 * Runs a scenario through the real correlator (the engine the correlate role runs) and scores
 * it: compression (alert notifications per incident), adjusted Rand index of the grouping
 * against the truth, root-cause top-1/top-3, known-error precision and recall, change links.
 */
export interface CorrelateScores {
  alerts: number;
  incidents: number;
  compression: number;
  ari: number;
  rca_top1: number;
  rca_top3: number;
  kedb_precision: number;
  kedb_recall: number;
  change_link_accuracy: number;
}

export function runScenario(s: Scenario, options: Partial<CorrelatorOptions> = {}): CorrelateScores {
  const c = new Correlator(options, { kedb: new KnownErrorMatcher(s.knownErrors), newId: counter() });
  for (const ci of s.cis) c.graph.addCi(ci);
  for (const r of s.relations) c.graph.addRelation(r);
  for (const ch of s.changes) c.changes.add(ch);
  c.cmdbChanged();
  const truth = new Map<string, string>();
  let notifications = 0;
  let lastTick = 0;
  // Final state of every incident, including ones the correlator later forgets.
  const incidents = new Map<string, Incident>();
  const collect = (force = false) => {
    for (const e of c.drain(force)) incidents.set(e.incident.id, e.incident);
  };
  for (const e of s.events) {
    if (e.at - lastTick >= 10_000) {
      c.tick(e.at);
      lastTick = e.at;
    }
    truth.set(e.alert.fingerprint, e.group);
    if (e.alert.status === 'firing') notifications++;
    c.ingest(e.alert, e.at);
    collect();
  }
  collect(true);
  const predicted = new Map<string, string>();
  for (const inc of incidents.values()) for (const fp of inc.alertFingerprints) predicted.set(fp, inc.id);
  const fps = [...truth.keys()];
  const ari = adjustedRand(
    fps.map((f) => truth.get(f)!),
    fps.map((f) => predicted.get(f) ?? `none:${f}`),
  );

  let top1 = 0;
  let top3 = 0;
  let keLinked = 0;
  let keCorrect = 0;
  let keExpected = 0;
  let keFound = 0;
  let changeExpected = 0;
  let changeCorrect = 0;
  for (const f of s.faults) {
    // The incident holding most of the fault's alerts answers for it.
    const votes = new Map<string, number>();
    for (const [fp, g] of truth)
      if (g === f.id && predicted.has(fp))
        votes.set(predicted.get(fp)!, (votes.get(predicted.get(fp)!) ?? 0) + 1);
    const best = [...votes].sort((a, b) => b[1] - a[1])[0];
    const inc = best && incidents.get(best[0]);
    const ranked = inc?.rootCauses.map((x) => x.ci) ?? [];
    if (ranked[0] === f.ci) top1++;
    if (ranked.slice(0, 3).includes(f.ci)) top3++;
    const ke = inc?.knownErrors[0]?.id;
    if (ke) {
      keLinked++;
      if (ke === f.knownError) keCorrect++;
    }
    if (f.knownError) {
      keExpected++;
      if (ke === f.knownError) keFound++;
    }
    if (f.change) {
      changeExpected++;
      if (inc?.changes?.[0]?.id === f.change) changeCorrect++;
    }
  }
  const n = s.faults.length || 1;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    alerts: notifications,
    incidents: incidents.size,
    compression: r3(notifications / Math.max(1, incidents.size)),
    ari: r3(ari),
    rca_top1: r3(top1 / n),
    rca_top3: r3(top3 / n),
    kedb_precision: r3(keLinked ? keCorrect / keLinked : 1),
    kedb_recall: r3(keExpected ? keFound / keExpected : 1),
    change_link_accuracy: r3(changeExpected ? changeCorrect / changeExpected : 1),
  };
}

function counter(): () => string {
  let n = 0;
  return () => `INC-${++n}`;
}

/** Hubert & Arabie's adjusted Rand index of two labelings of the same items. */
export function adjustedRand(a: string[], b: string[]): number {
  const choose2 = (x: number) => (x * (x - 1)) / 2;
  const cells = new Map<string, number>();
  const rows = new Map<string, number>();
  const cols = new Map<string, number>();
  a.forEach((x, i) => {
    const y = b[i]!;
    cells.set(`${x}\u0000${y}`, (cells.get(`${x}\u0000${y}`) ?? 0) + 1);
    rows.set(x, (rows.get(x) ?? 0) + 1);
    cols.set(y, (cols.get(y) ?? 0) + 1);
  });
  let index = 0;
  for (const v of cells.values()) index += choose2(v);
  let sa = 0;
  for (const v of rows.values()) sa += choose2(v);
  let sb = 0;
  for (const v of cols.values()) sb += choose2(v);
  const expected = (sa * sb) / choose2(a.length);
  const max = (sa + sb) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}
