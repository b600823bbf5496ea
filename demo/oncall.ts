import type { DemoIncident } from './print.ts';

/**
 * The on-call engineer of the demo: acknowledges each incident shortly after it forms and
 * resolves one once its fault is fixed, through the incidents API as a person would (admin
 * scope; the loopback default needs no token). This gives the incidents their acknowledge and
 * resolve times, so MTTA, MTTR and the resolved incidents have data.
 */

/** How long after an incident first shows the on-call acknowledges it (wall ms). */
export const ACK_AFTER_MS = 5000;

const BY = 'on-call';

export class OnCall {
  private readonly firstSeen = new Map<string, number>();
  private readonly acked = new Set<string>();
  private readonly resolved = new Set<string>();

  constructor(
    private readonly http: string,
    private readonly out: (s: string) => void,
  ) {}

  /** Acknowledges every open incident seen for at least ACK_AFTER_MS. */
  async acknowledgeDue(incidents: Iterable<DemoIncident>, now = Date.now()): Promise<void> {
    for (const inc of incidents) {
      if (!this.firstSeen.has(inc.id)) this.firstSeen.set(inc.id, now);
      if (inc.status !== 'open' || this.acked.has(inc.id)) continue;
      if (now - this.firstSeen.get(inc.id)! < ACK_AFTER_MS) continue;
      if (await this.act(inc.id, 'acknowledge', 'looking into it')) {
        this.acked.add(inc.id);
        const what = inc.rootCause ? `root cause ${inc.rootCause}` : inc.costKey ? 'cost spike' : inc.title;
        this.out(`demo: on-call acknowledged ${inc.id} (${inc.priority}, ${what})\n`);
      }
    }
  }

  /** Resolves an incident once its cause is fixed; true when the API took it. */
  async resolve(inc: DemoIncident, note: string): Promise<boolean> {
    if (this.resolved.has(inc.id)) return true;
    if (!(await this.act(inc.id, 'resolve', note))) return false;
    this.resolved.add(inc.id);
    this.out(`demo: on-call resolved ${inc.id} (${note})\n`);
    return true;
  }

  private async act(id: string, what: 'acknowledge' | 'resolve', note: string): Promise<boolean> {
    // A failed call (a connection reset under load) is retried at the next poll.
    const res = await fetch(`${this.http}/api/v1/incidents/${encodeURIComponent(id)}/${what}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: BY, note }),
    }).catch(() => undefined);
    if (res) await res.body?.cancel();
    return !!res?.ok;
  }
}
