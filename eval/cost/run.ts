import { scorePeriod, type CostSeries, type SpikeOptions } from '../../detect/cost/spike.ts';
import type { GenSeries } from './generate.ts';

/** Scores every day of every series with the detector's own scoring and counts hits and misses. */

export interface EvalResult {
  series_months: number;
  injected: number;
  recall: number;
  false_alerts_per_100_series_months: number;
  detected: number;
  falseAlerts: number;
}

/** The usage series, as detect/cost/series.ts builds it: Usage rows only, summed per day. */
export function usageSeries(s: GenSeries): CostSeries {
  const values = new Map<number, number>();
  for (const row of s.rows)
    if (row.category === 'Usage') values.set(row.at, (values.get(row.at) ?? 0) + row.cost);
  return { values, firstAt: s.firstAt };
}

export function evaluate(all: GenSeries[], o: SpikeOptions): EvalResult {
  let days = 0;
  let injected = 0;
  let detected = 0;
  let falseAlerts = 0;
  for (const s of all) {
    const series = usageSeries(s);
    days += s.days;
    injected += s.spikes.size;
    for (let d = 0; d < s.days; d++) {
      const at = s.firstAt + d * 86_400_000;
      const score = scorePeriod(series, at, o);
      if (!score?.spike) continue;
      if (s.spikes.has(at)) detected++;
      else falseAlerts++;
    }
  }
  const seriesMonths = days / 30;
  return {
    series_months: Math.round(seriesMonths),
    injected,
    recall: injected ? detected / injected : 1,
    false_alerts_per_100_series_months: (100 * falseAlerts) / seriesMonths,
    detected,
    falseAlerts,
  };
}
