import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

/**
 * What the real FOCUS sample shows, as the generator's parameters: per (provider, service)
 * the usage amount per day with data, how many days have data, negative usage rows; the
 * weekend/weekday ratio of usage; credits against usage.
 */
export const FOCUS_SAMPLE = '/work/shared/data/focus/focus_sample.csv';

export interface SampleService {
  provider: string;
  service: string;
  /** Line items (a weight: services with more lines are more common series). */
  rows: number;
  /** Mean usage cost per day with data. */
  dailyLevel: number;
  /** Share of the month's days with data. */
  coverage: number;
  /** Share of days with a negative usage row. */
  negativeDays: number;
  /** Skus seen, to name drivers. */
  skus: string[];
}

export interface SampleFacts {
  services: SampleService[];
  /** Usage per weekend day / usage per weekday. */
  weekendRatio: number;
  /** Credits (absolute) as a share of usage over the sample. */
  creditShare: number;
  days: number;
}

export function readSample(path = FOCUS_SAMPLE): SampleFacts {
  const rows = parse(readFileSync(path, 'utf8'), { columns: true }) as Record<string, string>[];
  const svc = new Map<
    string,
    { rows: number; days: Map<string, number>; neg: Set<string>; skus: Set<string> }
  >();
  const allDays = new Set<string>();
  let weekend = 0;
  let weekday = 0;
  let usage = 0;
  let credit = 0;
  for (const r of rows) {
    const day = (r.ChargePeriodStart ?? '').slice(0, 10);
    allDays.add(day);
    const cost = Number(r.BilledCost);
    if (r.ChargeCategory === 'Credit') credit += Math.abs(cost);
    if (r.ChargeCategory !== 'Usage') continue;
    usage += cost;
    const dow = new Date(`${day}T00:00:00Z`).getUTCDay();
    if (dow === 0 || dow === 6) weekend += cost;
    else weekday += cost;
    const key = `${r.ProviderName}\u0000${r.ServiceName}`;
    const s = svc.get(key) ?? { rows: 0, days: new Map(), neg: new Set(), skus: new Set() };
    s.rows++;
    s.days.set(day, (s.days.get(day) ?? 0) + cost);
    if (cost < 0) s.neg.add(day);
    if (r.SkuId && r.SkuId !== 'NULL') s.skus.add(r.SkuId);
    svc.set(key, s);
  }
  const days = allDays.size;
  const weekendDays = [...allDays].filter((d) =>
    [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay()),
  ).length;
  const services: SampleService[] = [];
  for (const [key, s] of svc) {
    const [provider, service] = key.split('\u0000') as [string, string];
    const total = [...s.days.values()].reduce((a, b) => a + b, 0);
    if (total <= 0) continue;
    services.push({
      provider,
      service,
      rows: s.rows,
      dailyLevel: total / s.days.size,
      coverage: s.days.size / days,
      negativeDays: s.neg.size / days,
      skus: [...s.skus],
    });
  }
  return {
    services,
    weekendRatio: weekend / weekendDays / (weekday / (days - weekendDays)),
    creditShare: credit / usage,
    days,
  };
}
