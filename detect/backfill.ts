import type { ClickHouseClient } from '../core/clickhouse/client.ts';
import type { AnomalyConfig } from './metrics/config.ts';
import { scoreSeries } from './metrics/batch.ts';

/**
 * Batch mode of the anomaly core: a metric's stored history, read back from ClickHouse, scored
 * series by series exactly as the stream detector would have scored it point by point (gauges
 * as they are, monotonic cumulative sums as per-second rates with resets skipped, delta sums
 * per second). For a new detector configuration on old data, or a metric added to the include
 * list after the fact: where would it have fired?
 */

export interface BackfillOptions {
  metric: string;
  service?: string;
  /** Unix ms, inclusive. */
  fromMs: number;
  toMs: number;
  /** Scores at or above it are reported (default 0.5, the alerting threshold). */
  minScore?: number;
  /** Series read at most (the busiest first). */
  maxSeries?: number;
  detector?: Partial<AnomalyConfig>;
}

export interface BackfillAnomaly {
  time: string;
  service: string;
  metric: string;
  attributes: Record<string, string>;
  value: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
}

export interface BackfillResult {
  series: number;
  points: number;
  anomalies: BackfillAnomaly[];
}

interface SeriesRow {
  service: string;
  attributes: Record<string, string>;
  kind: 'gauge' | 'cumulative' | 'delta';
  t: string[];
  v: number[];
}

// Both tables at once; the point arrays come back sorted by time. Sums that are not monotonic
// (up-down counters) are levels, read as gauges.
const SQL = `
SELECT service, attributes, kind, arrayMap(p -> toString(p.1), pts) AS t, arrayMap(p -> p.2, pts) AS v
FROM (
  SELECT ServiceName AS service, Attributes AS attributes, 'gauge' AS kind,
    arraySort(p -> p.1, groupArray((toUnixTimestamp64Milli(TimeUnix), Value))) AS pts
  FROM otel_metrics_gauge
  WHERE MetricName = {metric:String} AND TimeUnix BETWEEN fromUnixTimestamp64Milli({from:Int64}) AND fromUnixTimestamp64Milli({to:Int64})
    AND ({service:String} = '' OR ServiceName = {service:String})
  GROUP BY ServiceName, Attributes
  UNION ALL
  SELECT ServiceName AS service, Attributes AS attributes,
    if(NOT any(IsMonotonic), 'gauge', if(any(AggregationTemporality) = 1, 'delta', 'cumulative')) AS kind,
    arraySort(p -> p.1, groupArray((toUnixTimestamp64Milli(TimeUnix), Value))) AS pts
  FROM otel_metrics_sum
  WHERE MetricName = {metric:String} AND TimeUnix BETWEEN fromUnixTimestamp64Milli({from:Int64}) AND fromUnixTimestamp64Milli({to:Int64})
    AND ({service:String} = '' OR ServiceName = {service:String})
  GROUP BY ServiceName, Attributes
)
ORDER BY length(pts) DESC
LIMIT {maxSeries:UInt32}`;

/** Per-second rates of a series as the stream detector computes them; NaN where there is none. */
export function seriesValues(kind: SeriesRow['kind'], t: Float64Array, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) {
    if (kind === 'gauge') out[i] = v[i]!;
    else if (i === 0) out[i] = NaN;
    else {
      const dtS = (t[i]! - t[i - 1]!) / 1000;
      if (!(dtS > 0)) out[i] = NaN;
      else if (kind === 'delta') out[i] = v[i]! / dtS;
      // A reset (the counter went down) gives no rate for that step.
      else out[i] = v[i]! < v[i - 1]! ? NaN : (v[i]! - v[i - 1]!) / dtS;
    }
  }
  return out;
}

export async function backfill(client: ClickHouseClient, o: BackfillOptions): Promise<BackfillResult> {
  const rs = await client.query({
    query: SQL,
    query_params: {
      metric: o.metric,
      service: o.service ?? '',
      from: o.fromMs,
      to: o.toMs,
      maxSeries: o.maxSeries ?? 1000,
    },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<SeriesRow>();
  const minScore = o.minScore ?? 0.5;
  const result: BackfillResult = { series: rows.length, points: 0, anomalies: [] };
  for (const row of rows) {
    const t = Float64Array.from(row.t, Number);
    const raw = seriesValues(row.kind, t, row.v);
    // Missing rates are skipped rather than fed as gaps: the stream does the same.
    const keep: number[] = [];
    for (let i = 0; i < raw.length; i++) if (Number.isFinite(raw[i])) keep.push(i);
    const ts = Float64Array.from(keep, (i) => t[i]!);
    const vs = Float64Array.from(keep, (i) => raw[i]!);
    const s = scoreSeries(ts, vs, o.detector);
    result.points += ts.length;
    for (let i = 0; i < ts.length; i++) {
      if (s.score[i]! < minScore) continue;
      result.anomalies.push({
        time: new Date(ts[i]!).toISOString(),
        service: row.service,
        metric: o.metric,
        attributes: row.attributes,
        value: vs[i]!,
        expected: s.expected[i]!,
        lower: s.lower[i]!,
        upper: s.upper[i]!,
        score: s.score[i]!,
      });
    }
  }
  result.anomalies.sort((a, b) => a.time.localeCompare(b.time));
  return result;
}

/** The anomalies as a table for people. */
export function formatBackfill(r: BackfillResult): string {
  const head = `${r.series} series, ${r.points} points scored, ${r.anomalies.length} anomalies\n`;
  const fmt = (x: number) => (Math.abs(x) >= 1000 || Math.abs(x) < 0.01 ? x.toPrecision(4) : x.toFixed(3));
  return (
    head +
    r.anomalies
      .map((a) => {
        const labels = Object.entries(a.attributes)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        return `${a.time}  ${a.score.toFixed(2)}  ${a.service} ${a.metric}{${labels}} = ${fmt(a.value)} (expected ${fmt(a.expected)}, ${fmt(a.lower)}..${fmt(a.upper)})\n`;
      })
      .join('')
  );
}
