import type { SampleFacts, SampleService } from './sample.ts';

/**
 * FOCUS-shaped daily usage series seeded from the sample, with spikes of known size.
 *
 * From the sample: which services exist and how common they are (line counts), their relative
 * daily levels (scaled to a whole bill, as the sample is a random 1,000 lines of one), the
 * weekend/weekday ratio, how often a service has data on a day (for idle-prone series), the
 * share of days with negative usage rows (Microsoft) and the size of credits. Assumed (the
 * sample spans one month of sampled lines, so it cannot show them): day-to-day noise, trend,
 * a month-start bump.
 *
 * A spike: one day's usage multiplied by a factor drawn from [spikeMin, spikeMax], injected
 * only where the increase clears the absolute floor, at least a week from the next spike.
 */

export interface GenOptions {
  seed: number;
  series: number;
  minMonths: number;
  maxMonths: number;
  spikeMin: number;
  spikeMax: number;
  /** The detector's absolute floor: smaller increases are not spikes anyone wants to hear about. */
  minIncrease: number;
  /** Days at the start of a series without spikes (the detector's minimum history, and a week). */
  quietStartDays: number;
}

export interface GenRow {
  /** Day start, ms UTC. */
  at: number;
  category: 'Usage' | 'Credit';
  cost: number;
}

export interface GenSeries {
  id: string;
  provider: string;
  service: string;
  firstAt: number;
  days: number;
  rows: GenRow[];
  /** Day starts with an injected spike. */
  spikes: Set<number>;
}

const DAY = 86_400_000;

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

const uniform = (r: () => number, a: number, b: number) => a + (b - a) * r();
const logUniform = (r: () => number, a: number, b: number) => Math.exp(uniform(r, Math.log(a), Math.log(b)));

function pick(r: () => number, services: SampleService[]): SampleService {
  const total = services.reduce((a, s) => a + s.rows, 0);
  let x = r() * total;
  for (const s of services) if ((x -= s.rows) <= 0) return s;
  return services[services.length - 1]!;
}

export function generate(facts: SampleFacts, o: GenOptions): GenSeries[] {
  const r = rng(o.seed);
  // Idle-prone series take their chance of usage on a day from the sample's services that have
  // data on some but not all days.
  const partial = facts.services.filter((s) => s.coverage < 0.99 && s.coverage >= 0.2).map((s) => s.coverage);
  const out: GenSeries[] = [];
  for (let i = 0; i < o.series; i++) {
    const svc = pick(r, facts.services);
    const months = o.minMonths + Math.floor(r() * (o.maxMonths - o.minMonths + 1));
    const firstAt = Date.UTC(2024, Math.floor(r() * 12), 1);
    const end = new Date(firstAt);
    end.setUTCMonth(end.getUTCMonth() + months);
    const days = Math.round((end.getTime() - firstAt) / DAY);
    // The sample is a random 1,000 lines of a bill: a bill scale brings its levels to real ones.
    const level = svc.dailyLevel * logUniform(r, 300, 30_000);
    const weekend = r() < 0.5 ? 1 : Math.min(1, Math.max(0.4, facts.weekendRatio + 0.15 * normal(r)));
    const monthStart = r() < 0.2 ? uniform(r, 1.3, 2.5) : 1;
    const growthPerDay = uniform(r, -0.02, 0.03) / 7;
    const sigma = uniform(r, 0.02, 0.15);
    const idle = r() < 0.15 && partial.length ? partial[Math.floor(r() * partial.length)]! : 1;
    const negDays = svc.negativeDays;
    const rows: GenRow[] = [];
    const usage: number[] = [];
    for (let d = 0; d < days; d++) {
      const at = firstAt + d * DAY;
      const date = new Date(at);
      const dow = date.getUTCDay();
      let v = 0;
      if (d === 0 || r() < idle) {
        v = level * Math.exp(growthPerDay * d + sigma * normal(r));
        if (dow === 0 || dow === 6) v *= weekend;
        if (date.getUTCDate() === 1) v *= monthStart;
      }
      usage.push(v);
      // Negative usage (refund-like corrections without ChargeClass), as the Microsoft rows show.
      if (r() < negDays) rows.push({ at, category: 'Usage', cost: -uniform(r, 0.01, 0.2) * level });
    }
    const spikes = new Set<number>();
    let next = o.quietStartDays;
    while (next < days) {
      const d = next + Math.floor(r() * 30);
      if (d >= days) break;
      const factor = uniform(r, o.spikeMin, o.spikeMax);
      const base = usage[d]!;
      if (base > 0 && (factor - 1) * base >= o.minIncrease) {
        usage[d] = base * factor;
        spikes.add(firstAt + d * DAY);
      }
      next = d + 7;
    }
    for (let d = 0; d < days; d++)
      if (usage[d]) rows.push({ at: firstAt + d * DAY, category: 'Usage', cost: usage[d]! });
    // Credits: one-off negative lines of a sizeable share of a month's usage, sometimes on a spike day.
    for (let m = 0; m < months; m++) {
      if (r() >= 0.15) continue;
      const d = Math.min(days - 1, m * 30 + Math.floor(r() * 30));
      const at = spikes.size && r() < 0.5 ? [...spikes][Math.floor(r() * spikes.size)]! : firstAt + d * DAY;
      rows.push({
        at,
        category: 'Credit',
        cost: -Math.max(facts.creditShare, 0.05) * 30 * level * uniform(r, 0.5, 1.5),
      });
    }
    out.push({
      id: `${svc.provider}/${svc.service}#${i}`,
      provider: svc.provider,
      service: svc.service,
      firstAt,
      days,
      rows,
      spikes,
    });
  }
  return out;
}
