import type { Ci, CiRelation } from './model.ts';

/**
 * The CMDB dependency graph. Edges are stored both ways: `upstream` (what a CI depends on, the
 * relation's child) and `downstream` (its dependents, the relation's parent). Hop distances
 * ignore direction (two services sharing a database are 2 hops apart); blast radius follows
 * dependents only.
 */
export class CiGraph {
  private readonly cis = new Map<string, Ci>();
  private readonly upstream = new Map<string, Set<string>>();
  private readonly downstream = new Map<string, Set<string>>();
  /** related() answers, until the graph changes (alert storms ask about the same CIs). */
  private readonly relatedCache = new Map<string, Map<string, number>>();
  /** Depth-limited closures (root-cause ranking asks for the same ones at every re-triage). */
  private readonly closureCache = new Map<string, Set<string>>();

  addCi(ci: Ci): void {
    this.relatedCache.clear();
    this.closureCache.clear();
    this.cis.set(ci.id, ci);
  }

  removeCi(id: string): void {
    this.relatedCache.clear();
    this.closureCache.clear();
    this.cis.delete(id);
    for (const u of this.upstream.get(id) ?? []) this.downstream.get(u)?.delete(id);
    for (const d of this.downstream.get(id) ?? []) this.upstream.get(d)?.delete(id);
    this.upstream.delete(id);
    this.downstream.delete(id);
  }

  /** Replace everything (a CMDB re-read); ids and relations absent from the lists are gone. */
  replaceAll(cis: Iterable<Ci>, relations: Iterable<CiRelation>): void {
    this.cis.clear();
    this.upstream.clear();
    this.downstream.clear();
    for (const c of cis) this.addCi(c);
    for (const r of relations) this.addRelation(r);
  }

  addRelation(r: CiRelation): void {
    this.relatedCache.clear();
    this.closureCache.clear();
    if (r.parent === r.child) return;
    link(this.upstream, r.parent, r.child);
    link(this.downstream, r.child, r.parent);
  }

  removeRelation(r: CiRelation): void {
    this.relatedCache.clear();
    this.closureCache.clear();
    this.upstream.get(r.parent)?.delete(r.child);
    this.downstream.get(r.child)?.delete(r.parent);
  }

  get(id: string): Ci | undefined {
    return this.cis.get(id);
  }

  all(): IterableIterator<Ci> {
    return this.cis.values();
  }

  get size(): number {
    return this.cis.size;
  }

  /** What `id` depends on, directly. */
  dependencies(id: string): ReadonlySet<string> {
    return this.upstream.get(id) ?? EMPTY;
  }

  /** What depends on `id`, directly. */
  dependents(id: string): ReadonlySet<string> {
    return this.downstream.get(id) ?? EMPTY;
  }

  /**
   * Undirected hop distance from `from` to each CI within `maxHops` (BFS; stops early once
   * every target is found). Missing from the map: farther or unconnected.
   */
  distances(from: string, maxHops: number, targets?: ReadonlySet<string>): Map<string, number> {
    const dist = new Map<string, number>([[from, 0]]);
    let frontier = [from];
    let found = targets?.has(from) ? 1 : 0;
    for (let hop = 1; hop <= maxHops && frontier.length; hop++) {
      const next: string[] = [];
      for (const id of frontier) {
        for (const n of this.dependencies(id)) visit(n);
        for (const n of this.dependents(id)) visit(n);
      }
      frontier = next;
      if (targets && found >= targets.size) break;
      function visit(n: string) {
        if (dist.has(n)) return;
        dist.set(n, hop);
        next.push(n);
        if (targets?.has(n)) found++;
      }
    }
    return dist;
  }

  /**
   * CIs a fault could connect with `from` within `maxHops`: its dependencies and dependents,
   * and CIs sharing a dependency with it (up, then down: two services on one failing
   * database). Not CIs that merely share a dependent (down, then up): a web front calling two
   * services does not make one service's failure the other's.
   */
  related(from: string, maxHops: number): ReadonlyMap<string, number> {
    const key = `${maxHops}\u0000${from}`;
    const hit = this.relatedCache.get(key);
    if (hit) return hit;
    if (this.relatedCache.size > 20_000) this.relatedCache.clear();
    const dist = new Map<string, number>([[from, 0]]);
    // Phase 0: still climbing towards dependencies; phase 1: descending to dependents.
    let frontier: [string, 0 | 1][] = [[from, 0]];
    const seen = new Set([`${from}\u00000`]);
    for (let hop = 1; hop <= maxHops && frontier.length; hop++) {
      const next: [string, 0 | 1][] = [];
      const step = (n: string, phase: 0 | 1) => {
        const k = `${n}\u0000${phase}`;
        if (seen.has(k)) return;
        seen.add(k);
        if (!dist.has(n)) dist.set(n, hop);
        next.push([n, phase]);
      };
      for (const [id, phase] of frontier) {
        if (phase === 0) for (const n of this.dependencies(id)) step(n, 0);
        for (const n of this.dependents(id)) step(n, 1);
      }
      frontier = next;
    }
    this.relatedCache.set(key, dist);
    return dist;
  }

  /** Everything that depends on `id`, transitively (the blast radius of a fault in `id`). */
  allDependents(id: string, limit = 10_000, maxDepth = Infinity): Set<string> {
    return this.closure(id, this.downstream, limit, maxDepth);
  }

  /** Everything `id` depends on, transitively. */
  allDependencies(id: string, limit = 10_000, maxDepth = Infinity): Set<string> {
    return this.closure(id, this.upstream, limit, maxDepth);
  }

  private closure(id: string, edges: Map<string, Set<string>>, limit: number, maxDepth: number): Set<string> {
    const key = `${edges === this.upstream ? 'u' : 'd'}\u0000${limit}\u0000${maxDepth}\u0000${id}`;
    const hit = this.closureCache.get(key);
    if (hit) return hit;
    if (this.closureCache.size > 20_000) this.closureCache.clear();
    const out = new Set<string>();
    let frontier = [id];
    for (let depth = 1; depth <= maxDepth && frontier.length && out.size < limit; depth++) {
      const next: string[] = [];
      for (const f of frontier) {
        for (const n of edges.get(f) ?? []) {
          if (n === id || out.has(n)) continue;
          out.add(n);
          next.push(n);
        }
      }
      frontier = next;
    }
    this.closureCache.set(key, out);
    return out;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function link(m: Map<string, Set<string>>, from: string, to: string) {
  let s = m.get(from);
  if (!s) m.set(from, (s = new Set()));
  s.add(to);
}
