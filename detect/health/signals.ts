import type { ClickHouseClient } from '../../core/clickhouse/client.ts';

/**
 * What the health rules read from the metric tables, aggregated by ClickHouse: request and
 * error counts per service over several windows at once (from Prometheus-style request
 * counters and OTel/Prometheus duration histograms), the duration histogram merged per
 * service, the latest `up` per target, and the latest value of saturation gauges.
 *
 * Counters: cumulative series contribute the reset-aware sum of increases between the points
 * inside the window (a reset counts the new value), delta series the sum of their points.
 * Errors: a status label starting with 5 (`code`, `status_code`, `status`,
 * `http.response.status_code`, `http.status_code`).
 */

export interface WindowCounts {
  total: number;
  errors: number;
}

export interface ServiceRequests {
  /** window seconds -> counts */
  windows: Map<number, WindowCounts>;
  /** Merged duration histogram over the latency window, in seconds. */
  duration?: { bounds: number[]; counts: number[] };
}

const STATUS = `coalesce(nullIf(Attributes['code'], ''), nullIf(Attributes['status_code'], ''),
  nullIf(Attributes['status'], ''), nullIf(Attributes['http.response.status_code'], ''),
  Attributes['http.status_code'])`;

const COUNTER_SQL = `
WITH toUnixTimestamp64Milli(now64(3)) AS now_ms
SELECT service, w, sum(inc) AS total, sum(if(err, inc, 0)) AS errors FROM (
  SELECT service, err, w,
    arrayFilter(p -> p.1 >= now_ms - w * 1000, pts) AS wp,
    toFloat64(if(temp = 1, arraySum(p -> p.2, wp),
      arraySum(arrayMap((a, b) -> if(b.2 >= a.2, b.2 - a.2, b.2), arrayPopBack(wp), arrayPopFront(wp))))) AS inc
  FROM (
    SELECT ServiceName AS service, any(AggregationTemporality) AS temp,
      arraySort(p -> p.1, groupArray((toUnixTimestamp64Milli(TimeUnix), Value))) AS pts,
      match(${STATUS}, '^5') AS err
    FROM otel_metrics_sum
    WHERE TimeUnix >= now64(9) - toIntervalSecond({maxWindow:UInt32}) AND IsMonotonic
      AND match(MetricName, {counters:String})
    GROUP BY ServiceName, Attributes, MetricName
  ) ARRAY JOIN {windows:Array(UInt32)} AS w
) GROUP BY service, w`;

const HISTOGRAM_SQL = `
WITH toUnixTimestamp64Milli(now64(3)) AS now_ms
SELECT service, w, unit, bounds, sumForEach(inc_b) AS buckets, sum(inc_c) AS total,
  sum(if(err, inc_c, 0)) AS errors FROM (
  SELECT service, unit, bounds, err, w,
    arrayFilter(p -> p.1 >= now_ms - w * 1000, pts) AS wp,
    toFloat64(if(temp = 1, arraySum(p -> p.2, wp),
      if(length(wp) < 2, 0, if(wp[-1].2 >= wp[1].2, wp[-1].2 - wp[1].2, wp[-1].2)))) AS inc_c,
    CAST(if(temp = 1, arrayReduce('sumForEach', arrayMap(p -> p.3, wp)),
      if(length(wp) < 2, arrayWithConstant(length(bounds) + 1, toUInt64(0)),
        if(wp[-1].2 >= wp[1].2, arrayMap((l, f) -> toUInt64(if(l >= f, l - f, 0)), wp[-1].3, wp[1].3),
          wp[-1].3))) AS Array(UInt64)) AS inc_b
  FROM (
    SELECT ServiceName AS service, MetricUnit AS unit, ExplicitBounds AS bounds,
      any(AggregationTemporality) AS temp,
      arraySort(p -> p.1, groupArray((toUnixTimestamp64Milli(TimeUnix), Count, BucketCounts))) AS pts,
      match(${STATUS}, '^5') AS err
    FROM otel_metrics_histogram
    WHERE TimeUnix >= now64(9) - toIntervalSecond({maxWindow:UInt32})
      AND match(MetricName, {histograms:String})
    GROUP BY ServiceName, Attributes, MetricName, MetricUnit, ExplicitBounds
  ) ARRAY JOIN {windows:Array(UInt32)} AS w
) GROUP BY service, w, unit, bounds`;

type Num = number | string;

export async function requestSignals(
  client: ClickHouseClient,
  o: { windows: number[]; latencyWindow: number; counters: string; histograms: string },
): Promise<Map<string, ServiceRequests>> {
  const windows = [...new Set([...o.windows, o.latencyWindow])].sort((a, b) => a - b);
  const params = {
    windows,
    maxWindow: windows[windows.length - 1]!,
    counters: o.counters,
    histograms: o.histograms,
  };
  const [counters, histograms] = await Promise.all([
    query<{ service: string; w: Num; total: Num; errors: Num }>(client, COUNTER_SQL, params),
    query<{
      service: string;
      w: Num;
      unit: string;
      bounds: number[];
      buckets: Num[];
      total: Num;
      errors: Num;
    }>(client, HISTOGRAM_SQL, params),
  ]);
  const out = new Map<string, ServiceRequests>();
  const of = (service: string) => {
    let s = out.get(service);
    if (!s) out.set(service, (s = { windows: new Map() }));
    return s;
  };
  // A service exporting both a counter and a histogram of the same requests would count twice:
  // the counter wins (it is the Prometheus convention), histograms fill in where there is none.
  const fromCounters = new Set<string>();
  for (const r of counters) {
    if (Number(r.total) <= 0) continue;
    fromCounters.add(r.service);
    add(of(r.service).windows, Number(r.w), Number(r.total), Number(r.errors));
  }
  for (const r of histograms) {
    const s = of(r.service);
    const w = Number(r.w);
    if (!fromCounters.has(r.service)) add(s.windows, w, Number(r.total), Number(r.errors));
    if (w !== o.latencyWindow || !r.bounds.length) continue;
    const scale = r.unit === 'ms' ? 1 / 1000 : r.unit === 'us' ? 1 / 1e6 : 1;
    mergeHistogram(
      s,
      r.bounds.map((b) => b * scale),
      r.buckets.map(Number),
    );
  }
  return out;
}

function add(m: Map<number, WindowCounts>, w: number, total: number, errors: number) {
  const c = m.get(w) ?? { total: 0, errors: 0 };
  c.total += total;
  c.errors += errors;
  m.set(w, c);
}

/** Histograms of one service with other bounds are merged onto the first one's bounds. */
function mergeHistogram(s: ServiceRequests, bounds: number[], counts: number[]) {
  if (!s.duration) {
    s.duration = { bounds, counts: [...counts] };
    return;
  }
  const d = s.duration;
  counts.forEach((c, i) => {
    const upper = i < bounds.length ? bounds[i]! : Infinity;
    let j = d.bounds.findIndex((b) => upper <= b);
    if (j < 0) j = d.bounds.length;
    d.counts[j] = (d.counts[j] ?? 0) + c;
  });
}

export interface TargetUp {
  service: string;
  instance: string;
  up: number;
  /** Unix ms of the latest sample. */
  at: number;
}

export async function targetsUp(client: ClickHouseClient, windowSeconds: number): Promise<TargetUp[]> {
  const rows = await query<{ service: string; instance: string; up: Num; at: Num }>(
    client,
    `SELECT ServiceName AS service,
       coalesce(nullIf(ResourceAttributes['service.instance.id'], ''), Attributes['instance']) AS instance,
       argMax(Value, TimeUnix) AS up, toUnixTimestamp64Milli(max(TimeUnix)) AS at
     FROM otel_metrics_gauge
     WHERE MetricName = 'up' AND TimeUnix >= now64(9) - toIntervalSecond({w:UInt32})
     GROUP BY service, instance`,
    { w: Math.ceil(windowSeconds) },
  );
  return rows.map((r) => ({ service: r.service, instance: r.instance, up: Number(r.up), at: Number(r.at) }));
}

export interface GaugeReading {
  service: string;
  attributes: Record<string, string>;
  value: number;
}

/** Latest value of `metric` (divided by the latest `per` of the same series when given). */
export async function latestGauges(
  client: ClickHouseClient,
  metric: string,
  per: string | undefined,
  windowSeconds: number,
): Promise<GaugeReading[]> {
  const rows = await query<{
    service: string;
    attributes: Record<string, string>;
    num: Num;
    den: Num;
    nden: Num;
  }>(
    client,
    `SELECT ServiceName AS service, Attributes AS attributes,
       argMaxIf(Value, TimeUnix, MetricName = {metric:String}) AS num,
       argMaxIf(Value, TimeUnix, MetricName = {per:String}) AS den,
       countIf(MetricName = {per:String}) AS nden,
       countIf(MetricName = {metric:String}) AS nnum
     FROM otel_metrics_gauge
     WHERE MetricName IN ({metric:String}, {per:String})
       AND TimeUnix >= now64(9) - toIntervalSecond({w:UInt32})
     GROUP BY service, attributes HAVING nnum > 0`,
    { metric, per: per ?? metric, w: Math.ceil(windowSeconds) },
  );
  const out: GaugeReading[] = [];
  for (const r of rows) {
    if (!per) {
      out.push({ service: r.service, attributes: r.attributes, value: Number(r.num) });
    } else if (Number(r.nden) > 0 && Number(r.den) > 0) {
      out.push({ service: r.service, attributes: r.attributes, value: Number(r.num) / Number(r.den) });
    }
  }
  return out;
}

async function query<T>(
  client: ClickHouseClient,
  sql: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  const rs = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}
