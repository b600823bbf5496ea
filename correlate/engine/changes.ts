import type { Change } from './model.ts';

/** Changes per CI, sorted by time, for "what changed on these CIs shortly before onset". */
export class ChangeIndex {
  private readonly byCi = new Map<string, Change[]>();

  add(c: Change): void {
    let list = this.byCi.get(c.ci);
    if (!list) this.byCi.set(c.ci, (list = []));
    if (list.some((x) => x.id === c.id && x.time === c.time)) return;
    list.push(c);
    list.sort((a, b) => a.time - b.time);
  }

  /** Changes on `ci` in [beforeMs - windowMs, beforeMs]. */
  before(ci: string, beforeMs: number, windowMs: number): Change[] {
    const list = this.byCi.get(ci);
    if (!list) return [];
    return list.filter((c) => c.time <= beforeMs && c.time >= beforeMs - windowMs);
  }

  /** Drop changes older than `olderThanMs` (they can no longer be linked). */
  prune(olderThanMs: number): void {
    for (const [ci, list] of this.byCi) {
      const keep = list.filter((c) => c.time >= olderThanMs);
      if (keep.length) this.byCi.set(ci, keep);
      else this.byCi.delete(ci);
    }
  }
}
