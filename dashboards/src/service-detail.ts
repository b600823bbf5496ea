import type { Dashboard } from '@grafana/schema';
import { byName, dashboard, datasourceVariable, fieldConfig, queryVariable, sql, thresholds } from './lib.ts';
import {
  ENV,
  RANGE_S,
  bucketPoints,
  envFilter,
  latestAlerts,
  logsEnvFilter,
  pick,
  quantile,
  requestPoints,
  serviceIs,
} from './sql.ts';
import { envVariable, serviceVariable } from './variables.ts';

const filter = `${envFilter} AND ${serviceIs('ServiceName')}`;

/** CI ids of the service: a CI named like it or serving it. */
const SERVICE_CIS = `(SELECT id FROM cmdb_ci FINAL WHERE service = '\${service}' OR name = '\${service}')`;

const metricVariable = queryVariable(
  'metric',
  'Metric',
  `SELECT DISTINCT MetricName FROM (
  SELECT MetricName, ServiceName, ResourceAttributes FROM otel_metrics_gauge WHERE $__timeFilter(TimeUnix)
  UNION ALL SELECT MetricName, ServiceName, ResourceAttributes FROM otel_metrics_sum WHERE $__timeFilter(TimeUnix)
) WHERE ServiceName = '\${service}' AND $__conditionalAll(${ENV} IN (\${env}), $env) ORDER BY MetricName`,
);

const summary = `
SELECT r.rps AS rps, r.error_ratio AS error_ratio, l.p95 AS p95, l.p99 AS p99, a.firing AS firing_alerts
FROM (
  SELECT ${pick('n')} / ${RANGE_S} AS rps, ${pick('if(err, n, 0)')} / nullIf(${pick('n')}, 0) AS error_ratio
  FROM (${requestPoints(filter)})
) AS r
CROSS JOIN (
  SELECT argMax(p95, total) AS p95, argMax(p99, total) AS p99 FROM (
    SELECT arraySum(buckets) AS total, ${quantile(0.95)} AS p95, ${quantile(0.99)} AS p99
    FROM (SELECT bounds, scale, sumForEach(b) AS buckets FROM (${bucketPoints(filter)}) GROUP BY bounds, scale)
  )
) AS l
CROSS JOIN (
  SELECT countIf(status = 'firing') AS firing FROM (${latestAlerts(serviceIs('service'))})
) AS a`;

const traffic = `
SELECT $__timeInterval(t) AS time, ${pick('n')} / ($__interval_s) AS requests, ${pick('if(err, n, 0)')} / ($__interval_s) AS errors
FROM (${requestPoints(filter)})
GROUP BY time ORDER BY time`;

const latency = `
SELECT time, argMax(p50, total) AS p50, argMax(p95, total) AS p95, argMax(p99, total) AS p99 FROM (
  SELECT time, arraySum(buckets) AS total, ${quantile(0.5)} AS p50, ${quantile(0.95)} AS p95, ${quantile(0.99)} AS p99
  FROM (
    SELECT $__timeInterval(t) AS time, bounds, scale, sumForEach(b) AS buckets
    FROM (${bucketPoints(filter)}) GROUP BY time, bounds, scale
  )
) GROUP BY time ORDER BY time`;

/** The metric as the anomaly detector scores it: gauges as they are, counters as per-second rates. */
const metricValue = `
SELECT time, avg(v) AS value FROM (
  SELECT $__timeInterval(TimeUnix) AS time, Value AS v
  FROM otel_metrics_gauge
  WHERE $__timeFilter(TimeUnix) AND MetricName = '\${metric}' AND ${filter}
  UNION ALL
  SELECT time, sum(d) / ($__interval_s) AS v FROM (
    SELECT $__timeInterval(TimeUnix) AS time, cityHash64(ResourceAttributes, Attributes) AS series,
      if(AggregationTemporality = 1, Value, if(isNull(prev), 0, if(Value >= prev, Value - prev, Value))) AS d
    FROM (
      SELECT TimeUnix, Value, AggregationTemporality, ResourceAttributes, Attributes,
        lagInFrame(toNullable(Value)) OVER (PARTITION BY cityHash64(ResourceAttributes, Attributes) ORDER BY TimeUnix
          ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev
      FROM otel_metrics_sum
      WHERE $__timeFilter(TimeUnix) AND MetricName = '\${metric}' AND ${filter}
    )
  ) GROUP BY time, series
) GROUP BY time ORDER BY time`;

/** Expected value and band the detector reported with each anomaly notification. */
const metricBand = `
SELECT received_at AS time, evidence_expected AS expected, evidence_lower AS lower, evidence_upper AS upper,
  evidence_observed AS observed
FROM alerts
WHERE $__timeFilter(received_at) AND ${serviceIs('service')} AND kind = 'metric_anomaly'
  AND labels['metric'] = '\${metric}' AND isNotNull(evidence_expected)
ORDER BY time`;

const templates = `
SELECT l.TemplateId AS template_id, any(t.template) AS template, any(t.severity_text) AS severity, count() AS lines,
  min(l.Timestamp) AS first_in_range, any(t.first_seen) AS first_seen
FROM otel_logs AS l
LEFT JOIN (
  SELECT template_id, anyLast(template) AS template, anyLast(severity_text) AS severity_text, min(first_seen) AS first_seen
  FROM log_templates WHERE service = '\${service}' GROUP BY template_id
) AS t ON t.template_id = l.TemplateId
WHERE $__timeFilter(l.Timestamp) AND l.ServiceName = '\${service}'
GROUP BY template_id
ORDER BY lines DESC LIMIT 50`;

const templateVolume = `
SELECT $__timeInterval(Timestamp) AS time, if(TemplateId = '', '(not mined)', TemplateId) AS template, count() AS lines
FROM otel_logs
WHERE $__timeFilter(Timestamp) AND ServiceName = '\${service}' AND ${logsEnvFilter}
GROUP BY time, template ORDER BY time`;

const errorLogs = `
SELECT Timestamp AS time, SeverityText AS severity, TemplateId AS template_id, Body AS body
FROM otel_logs
WHERE $__timeFilter(Timestamp) AND ServiceName = '\${service}' AND ${logsEnvFilter} AND SeverityNumber >= 13
ORDER BY Timestamp DESC LIMIT 200`;

const ciInfo = `
SELECT name, class, owner_group, environment, criticality, source, if(discovered, 'telemetry', 'CMDB') AS origin, id
FROM cmdb_ci FINAL
WHERE id IN ${SERVICE_CIS}`;

const dependencies = `
SELECT 'depends on' AS direction, c.name AS ci, c.class AS class, c.criticality AS criticality, r.type AS relation
FROM (SELECT parent, child, type FROM cmdb_rel FINAL WHERE parent IN ${SERVICE_CIS}) AS r
LEFT JOIN (SELECT id, name, class, criticality FROM cmdb_ci FINAL) AS c ON c.id = r.child
UNION ALL
SELECT 'used by' AS direction, c.name AS ci, c.class AS class, c.criticality AS criticality, r.type AS relation
FROM (SELECT parent, child, type FROM cmdb_rel FINAL WHERE child IN ${SERVICE_CIS}) AS r
LEFT JOIN (SELECT id, name, class, criticality FROM cmdb_ci FINAL) AS c ON c.id = r.parent
ORDER BY direction, ci`;

const recentChanges = `
SELECT time, kind, id, description, link
FROM changes FINAL
WHERE ci IN ${SERVICE_CIS} AND time <= ($__toTime) AND time >= ($__fromTime) - INTERVAL 7 DAY
ORDER BY time DESC LIMIT 50`;

const incidents = `
SELECT id, priority, status, title, alert_count AS alerts, first_seen, resolved_at
FROM incidents FINAL
WHERE (service = '\${service}'
    OR hasAny(affected_cis, (SELECT groupArray(id) FROM cmdb_ci FINAL WHERE service = '\${service}' OR name = '\${service}')))
  AND first_seen <= ($__toTime) AND last_seen >= ($__fromTime)
ORDER BY first_seen DESC LIMIT 50`;

const alertAnnotations = `
SELECT min(starts_at) AS time, max(ifNull(ends_at, received_at)) AS timeEnd,
  argMax(annotations['summary'], received_at) AS text, argMax(labels['alertname'], received_at) AS title,
  [any(kind), argMax(severity, received_at), argMax(status, received_at)] AS tags
FROM alerts
WHERE $__timeFilter(received_at) AND ${serviceIs('service')}
GROUP BY fingerprint ORDER BY time`;

const changeAnnotations = `
SELECT time, concat(kind, ' ', id, ': ', description) AS text, kind AS title, [kind, 'change'] AS tags
FROM changes FINAL
WHERE $__timeFilter(time) AND ci IN ${SERVICE_CIS}
ORDER BY time`;

export function serviceDetail(): Dashboard {
  return dashboard({
    uid: 'opsight-service-detail',
    title: 'opsight / Service detail',
    description:
      "One service: its traffic, errors and latency, a metric against the detector's expected band, alerts and changes as annotations, its logs by template, its CI, dependencies, changes and incidents.",
    tags: ['sre', 'service'],
    variables: [datasourceVariable(), envVariable(), serviceVariable({ multi: false }), metricVariable],
    annotations: [
      { name: 'Alerts', iconColor: 'red', rawSql: alertAnnotations },
      { name: 'Changes', iconColor: 'blue', rawSql: changeAnnotations },
    ],
    items: [
      {
        type: 'stat',
        title: '${service}',
        w: 24,
        h: 4,
        targets: [sql(summary, 'table')],
        options: {
          reduceOptions: {
            calcs: ['lastNotNull'],
            fields: '/^(rps|error_ratio|p95|p99|firing_alerts)$/',
            values: false,
          },
          colorMode: 'value',
          textMode: 'value_and_name',
        },
        fieldConfig: fieldConfig({}, [
          byName('rps', { unit: 'reqps', displayName: 'requests', decimals: 2 }),
          byName('error_ratio', {
            unit: 'percentunit',
            displayName: 'errors',
            decimals: 2,
            thresholds: thresholds([
              [null, 'green'],
              [0.05, 'orange'],
              [0.2, 'red'],
            ]),
          }),
          byName('p95', { unit: 's', decimals: 3 }),
          byName('p99', { unit: 's', decimals: 3 }),
          byName('firing_alerts', {
            displayName: 'firing alerts',
            thresholds: thresholds([
              [null, 'green'],
              [1, 'red'],
            ]),
          }),
        ]),
      },
      { row: 'Traffic' },
      {
        type: 'timeseries',
        title: 'Requests and errors per second',
        w: 12,
        h: 8,
        targets: [sql(traffic, 'time_series')],
        fieldConfig: fieldConfig({ unit: 'reqps' }, [
          byName('errors', { color: { mode: 'fixed', fixedColor: 'red' } }),
        ]),
      },
      {
        type: 'timeseries',
        title: 'Duration p50 / p95 / p99',
        w: 12,
        h: 8,
        targets: [sql(latency, 'time_series')],
        fieldConfig: fieldConfig({ unit: 's' }),
      },
      {
        type: 'timeseries',
        title: '${metric} and the expected band',
        description:
          'The metric (counters as per-second rates), with the expected value and band the anomaly detector reported when it alerted.',
        w: 24,
        h: 9,
        targets: [sql(metricValue, 'time_series', 'A'), sql(metricBand, 'time_series', 'B')],
        fieldConfig: fieldConfig({ custom: { drawStyle: 'line', spanNulls: true } }, [
          byName('upper', {
            'custom.fillBelowTo': 'lower',
            'custom.lineWidth': 0,
            'custom.fillOpacity': 20,
            color: { mode: 'fixed', fixedColor: 'green' },
          }),
          byName('lower', { 'custom.lineWidth': 0, color: { mode: 'fixed', fixedColor: 'green' } }),
          byName('expected', {
            'custom.lineStyle': { fill: 'dash', dash: [10, 10] },
            color: { mode: 'fixed', fixedColor: 'green' },
          }),
          byName('observed', {
            'custom.drawStyle': 'points',
            'custom.pointSize': 8,
            color: { mode: 'fixed', fixedColor: 'red' },
          }),
        ]),
      },
      { row: 'Logs' },
      {
        type: 'timeseries',
        title: 'Log lines by template',
        w: 12,
        h: 8,
        targets: [sql(templateVolume, 'time_series')],
        fieldConfig: fieldConfig({
          custom: { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 },
        }),
      },
      {
        type: 'table',
        title: 'Templates',
        w: 12,
        h: 8,
        targets: [sql(templates, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('first_seen', { unit: 'dateTimeAsIso' }),
          byName('first_in_range', { unit: 'dateTimeAsIso' }),
        ]),
      },
      {
        type: 'table',
        title: 'Warnings and errors',
        w: 24,
        h: 8,
        targets: [sql(errorLogs, 'table')],
        fieldConfig: fieldConfig({}, [byName('time', { unit: 'dateTimeAsIso' })]),
      },
      { row: 'Configuration item' },
      { type: 'table', title: 'CI', w: 8, h: 7, targets: [sql(ciInfo, 'table')] },
      { type: 'table', title: 'Dependencies', w: 8, h: 7, targets: [sql(dependencies, 'table')] },
      {
        type: 'table',
        title: 'Recent changes',
        w: 8,
        h: 7,
        targets: [sql(recentChanges, 'table')],
        fieldConfig: fieldConfig({}, [byName('time', { unit: 'dateTimeAsIso' })]),
      },
      {
        type: 'table',
        title: 'Incidents involving ${service}',
        w: 24,
        h: 6,
        targets: [sql(incidents, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('first_seen', { unit: 'dateTimeAsIso' }),
          byName('resolved_at', { unit: 'dateTimeAsIso' }),
        ]),
      },
    ],
  });
}
