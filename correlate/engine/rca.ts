import type { ChangeIndex } from './changes.ts';
import type { CiGraph } from './graph.ts';
import type { Change } from './model.ts';

/**
 * Root-cause candidates of an incident, ranked, each with its reason. For each affected CI:
 * how many of the other affected CIs depend on it (a fault flows from a dependency to its
 * dependents, so the most upstream affected CI explains the others), how early it started
 * alerting, its strongest anomaly score, and a change on it shortly before its onset. A CI
 * that no alert names but that all affected CIs depend on (a silent shared dependency) is a
 * candidate too, ranked by the same upstream evidence with no onset or score of its own.
 */
export interface AffectedCi {
  ci: string;
  /** Unix ms of its first alert in this incident. */
  onset: number;
  maxScore: number;
  alerts: number;
}

export interface RootCause {
  ci: string;
  score: number;
  reason: string;
}

export interface RcaOptions {
  changeWindowMs: number;
  /** Onset differences are weighed on this scale (exp(-delay / onsetScaleMs)). */
  onsetScaleMs: number;
  maxHops: number;
}

const W = { upstream: 0.45, onset: 0.25, score: 0.1, change: 0.2 };
const MAX_RANKED = 200;
const RANK_DEPTH = 4;
/** A dependency shared by more affected CIs than this is not looked for (too costly, rarely silent). */
const MAX_SHARED = 50;

export function rankRootCauses(
  affectedIn: AffectedCi[],
  graph: CiGraph,
  changes: ChangeIndex,
  o: RcaOptions,
): RootCause[] {
  let affected = affectedIn;
  if (!affected.length) return [];
  // In a storm, causes alert early: rank the earliest MAX_RANKED affected CIs (each ranking
  // walks the CI's dependency closures, so this bounds the cost of a giant incident).
  if (affected.length > MAX_RANKED)
    affected = [...affected].sort((a, b) => a.onset - b.onset).slice(0, MAX_RANKED);
  const ids = new Set(affected.map((a) => a.ci));
  const t0 = Math.min(...affected.map((a) => a.onset));
  const others = Math.max(1, ids.size - 1);
  const out: RootCause[] = [];
  for (const a of affected) {
    // Faults show within a few hops; deeper closures cost much and rarely change the order.
    const below = countIn(graph.allDependents(a.ci, 10_000, RANK_DEPTH), ids, a.ci);
    const above = countIn(graph.allDependencies(a.ci, 10_000, RANK_DEPTH), ids, a.ci);
    // Upstream share: dependents among the affected, minus a penalty when it itself depends
    // on another affected CI (then that one is more likely the cause).
    const upstream = ids.size === 1 ? 1 : Math.max(0, (below - 0.5 * above) / others);
    const delay = a.onset - t0;
    const onset = Math.exp(-delay / o.onsetScaleMs);
    const change = bestChange(changes.before(a.ci, a.onset, o.changeWindowMs), a.onset, o.changeWindowMs);
    const score =
      W.upstream * upstream + W.onset * onset + W.score * a.maxScore + W.change * (change?.weight ?? 0);
    const why: string[] = [];
    if (below) why.push(`${below} of ${others} other affected CIs depend on it`);
    if (above) why.push(`it depends on ${above} affected CI${above > 1 ? 's' : ''}`);
    why.push(delay === 0 ? 'first to alert' : `alerted ${Math.round(delay / 1000)}s after the first`);
    if (a.maxScore) why.push(`anomaly score ${a.maxScore.toFixed(2)}`);
    if (change)
      why.push(
        `change ${change.change.id} (${change.change.kind}) ${Math.round((a.onset - change.change.time) / 60_000)} min before onset`,
      );
    out.push({ ci: a.ci, score: round(score), reason: why.join('; ') });
  }
  // Silent shared dependencies: depended on by every affected CI (and by more than one).
  if (ids.size > 1 && ids.size <= MAX_SHARED) {
    let common: Set<string> | undefined;
    for (const a of affected) {
      const deps = graph.allDependencies(a.ci, 2_000);
      common = common ? new Set([...common].filter((c) => deps.has(c))) : deps;
      if (!common.size) break;
    }
    for (const c of common ?? []) {
      if (ids.has(c)) continue;
      // Only the nearest shared dependency: skip one that another common one depends on.
      const dependents = graph.allDependents(c, 2_000);
      if ([...(common ?? [])].some((o2) => o2 !== c && !ids.has(o2) && dependents.has(o2))) continue;
      const change = bestChange(changes.before(c, t0, o.changeWindowMs), t0, o.changeWindowMs);
      const score = W.upstream * 1 + W.change * (change?.weight ?? 0);
      out.push({
        ci: c,
        score: round(score * 0.8),
        reason: `all ${ids.size} affected CIs depend on it, but it raised no alert${change ? `; change ${change.change.id} before onset` : ''}`,
      });
    }
  }
  return out.sort((x, y) => y.score - x.score);
}

function countIn(set: Set<string>, ids: Set<string>, self: string): number {
  let n = 0;
  // Walk the smaller side: a closure can be far larger than the affected set, or far smaller.
  if (set.size < ids.size) {
    for (const id of set) if (id !== self && ids.has(id)) n++;
  } else {
    for (const id of ids) if (id !== self && set.has(id)) n++;
  }
  return n;
}

function bestChange(
  list: Change[],
  onset: number,
  windowMs: number,
): { change: Change; weight: number } | undefined {
  let best: { change: Change; weight: number } | undefined;
  for (const c of list) {
    // The closer to onset, the likelier the cause; never 0 inside the window.
    const weight = 1 - 0.7 * ((onset - c.time) / windowMs);
    if (!best || weight > best.weight) best = { change: c, weight };
  }
  return best;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
