/**
 * SQL fragments the dashboards share. Written for the plugin's macro expansion: an argument-less
 * macro ($__fromTime, $__toTime, $__interval_s) is always followed by `)` before any `(`,
 * because the SDK otherwise takes the next parenthesised SQL as its arguments.
 */

/** deployment.environment (OTel semconv < 1.27) or deployment.environment.name (newer). */
export const ENV = `if(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'], ResourceAttributes['deployment.environment'])`;

/** Filters that vanish (1=1) when All is selected, so All also covers rows with no value. */
export const envFilter = `$__conditionalAll(${ENV} IN (\${env}), $env)`;
/**
 * Logs often carry no environment attribute (syslog, files, JSON lines): a log line without one
 * belongs to the environment its service's metrics report.
 */
export const logsEnvFilter = `$__conditionalAll((${ENV} IN (\${env}) OR (${ENV} = '' AND ServiceName IN (SELECT ServiceName FROM otel_metrics_sum WHERE $__timeFilter(TimeUnix) AND ${ENV} IN (\${env}) UNION DISTINCT SELECT ServiceName FROM otel_metrics_histogram WHERE $__timeFilter(TimeUnix) AND ${ENV} IN (\${env})))), $env)`;
export const servicesFilter = (col: string) => `$__conditionalAll(${col} IN (\${service}), $service)`;
export const serviceIs = (col: string) => `${col} = '\${service}'`;

/** The status label of a request series, as the health detector reads it. */
export const STATUS = `coalesce(nullIf(Attributes['code'], ''), nullIf(Attributes['status_code'], ''), nullIf(Attributes['status'], ''), nullIf(Attributes['http.response.status_code'], ''), Attributes['http.status_code'])`;

export const COUNTERS = `'_requests(_total)?$'`;
export const DURATIONS = `'^(http[.]server[.]request[.]duration|http[.]server[.]duration|.*_duration_seconds)$'`;

const WINDOW = `WINDOW w AS (PARTITION BY ServiceName, MetricName, cityHash64(ResourceAttributes, Attributes) ORDER BY TimeUnix ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)`;

/**
 * Requests per point: (service, env, t, src, err, n, dur). Cumulative series contribute the increase
 * since their previous point (a reset counts the new value), delta series their value. Counters
 * (`*_requests_total`, Prometheus) and duration histograms (OTel http.server.request.duration,
 * Prometheus *_duration_seconds) both count; `src` tells them apart so a service exporting both
 * is counted once (the counter wins, as in the health detector).
 */
export function requestPoints(filter: string): string {
  return `
    SELECT ServiceName AS service, ${ENV} AS env, TimeUnix AS t, 'counter' AS src, match(${STATUS}, '^5') AS err,
      toFloat64(if(AggregationTemporality = 1, Value, if(isNull(prev), 0, if(Value >= prev, Value - prev, Value)))) AS n,
      toFloat64(0) AS dur
    FROM (
      SELECT ServiceName, TimeUnix, Value, AggregationTemporality, ResourceAttributes, Attributes, lagInFrame(toNullable(Value)) OVER w AS prev
      FROM otel_metrics_sum
      WHERE $__timeFilter(TimeUnix) AND IsMonotonic AND match(MetricName, ${COUNTERS}) AND ${filter}
      ${WINDOW}
    )
    UNION ALL
    SELECT ServiceName AS service, ${ENV} AS env, TimeUnix AS t, 'histogram' AS src, match(${STATUS}, '^5') AS err,
      toFloat64(if(AggregationTemporality = 1, Count, if(isNull(prevCount), 0, if(Count >= prevCount, Count - prevCount, Count)))) AS n,
      if(AggregationTemporality = 1, Sum, if(isNull(prevCount), 0, if(Count >= prevCount, Sum - prevSum, Sum))) * if(MetricUnit = 'ms', 0.001, 1) AS dur
    FROM (
      SELECT ServiceName, TimeUnix, Count, Sum, MetricUnit, AggregationTemporality, ResourceAttributes, Attributes,
        lagInFrame(toNullable(Count)) OVER w AS prevCount, lagInFrame(Sum) OVER w AS prevSum
      FROM otel_metrics_histogram
      WHERE $__timeFilter(TimeUnix) AND match(MetricName, ${DURATIONS}) AND ${filter}
      ${WINDOW}
    )`;
}

/** Requests of a group, counters preferred over histograms. */
export const pick = (expr: string) =>
  `if(countIf(src = 'counter') > 0, sumIf(${expr}, src = 'counter'), sumIf(${expr}, src = 'histogram'))`;

/**
 * Duration-histogram bucket increases per point: (service, t, bounds, scale, b). `scale` turns
 * the bounds into seconds.
 */
export function bucketPoints(filter: string): string {
  return `
    SELECT ServiceName AS service, TimeUnix AS t, ExplicitBounds AS bounds, if(MetricUnit = 'ms', 0.001, 1) AS scale,
      CAST(if(AggregationTemporality = 1, BucketCounts,
        if(length(prevB) != length(BucketCounts), arrayMap(x -> toUInt64(0), BucketCounts),
          arrayMap((a, p) -> toUInt64(if(a >= p, a - p, a)), BucketCounts, prevB))), 'Array(UInt64)') AS b
    FROM (
      SELECT ServiceName, MetricName, TimeUnix, ExplicitBounds, MetricUnit, AggregationTemporality, BucketCounts,
        ResourceAttributes, Attributes, lagInFrame(BucketCounts) OVER w AS prevB
      FROM otel_metrics_histogram
      WHERE $__timeFilter(TimeUnix) AND match(MetricName, ${DURATIONS}) AND ${filter}
      ${WINDOW}
    )`;
}

/**
 * The q-quantile of merged buckets `c` (counts, one more than `b`) with bounds `b`, in seconds,
 * interpolated inside the bucket like Prometheus' histogram_quantile; NULL without requests.
 */
export function quantile(q: number, c = 'buckets', b = 'bounds', scale = 'scale'): string {
  const total = `arraySum(${c})`;
  const rank = `(${q} * ${total})`;
  const i = `arrayFirstIndex(x -> x >= ${rank}, arrayCumSum(${c}))`;
  const lower = `if(${i} = 1, 0, ${b}[${i} - 1])`;
  const below = `(arrayCumSum(${c})[${i}] - ${c}[${i}])`;
  return `if(${total} = 0, NULL, if(${i} > length(${b}), ${b}[length(${b})], ${lower} + (${b}[${i}] - ${lower}) * (${rank} - ${below}) / ${c}[${i}]) * ${scale})`;
}

/** Seconds in the dashboard's time range. */
export const RANGE_S = `greatest(dateDiff('second', $__fromTime, $__toTime), 1)`;

/** The newest notification of each alert fingerprint received up to the range's end. */
export function latestAlerts(filter = '1=1', lookbackDays = 7): string {
  return `
    SELECT fingerprint, argMax(status, received_at) AS status, argMax(severity, received_at) AS severity,
      argMax(kind, received_at) AS kind, argMax(service, received_at) AS service,
      argMax(labels, received_at) AS labels, argMax(annotations, received_at) AS annotations,
      min(starts_at) AS starts_at, max(received_at) AS last_at, max(score) AS score,
      argMax(evidence_observed, received_at) AS observed, argMax(evidence_expected, received_at) AS expected
    FROM (
      SELECT * FROM alerts
      WHERE received_at >= ($__toTime) - INTERVAL ${lookbackDays} DAY AND received_at <= ($__toTime) AND ${filter}
    )
    GROUP BY fingerprint`;
}

/** CI name of the incident's top root-cause candidate. */
export const ROOT_CAUSE_ID = `JSONExtractString(root_causes, 1, 'ci')`;
