import type { Dashboard } from '@grafana/schema';
import { byName, dashboard, datasourceVariable, fieldConfig, sql, thresholds, stat } from './lib.ts';
import {
  RANGE_S,
  ROOT_CAUSE_ID,
  bucketPoints,
  envFilter,
  latestAlerts,
  pick,
  quantile,
  requestPoints,
  servicesFilter,
} from './sql.ts';
import { envVariable, serviceVariable } from './variables.ts';

const filter = `${envFilter} AND ${servicesFilter('ServiceName')}`;

/**
 * One row per service with request metrics, plus (with every environment) services that only
 * have firing alerts, such as a database without request metrics. Cost alerts are finance's.
 */
const red = `
SELECT if(r.service != '', r.service, a.service) AS service, r.env AS env, r.rps AS rps, r.error_ratio AS error_ratio,
  l.p95 AS p95, l.p99 AS p99,
  multiIf(a.critical > 0, 'critical', a.firing > 0, 'degraded', 'ok') AS health,
  a.firing AS firing_alerts
FROM (
  SELECT service, any(env) AS env, ${pick('n')} / ${RANGE_S} AS rps,
    ${pick('if(err, n, 0)')} / nullIf(${pick('n')}, 0) AS error_ratio
  FROM (${requestPoints(filter)})
  GROUP BY service
) AS r
FULL OUTER JOIN (
  SELECT service, countIf(status = 'firing') AS firing, countIf(status = 'firing' AND severity = 'critical') AS critical
  FROM (${latestAlerts(`kind != 'cost_spike' AND service != '' AND ${servicesFilter('service')}`)})
  GROUP BY service HAVING firing > 0
) AS a ON a.service = r.service
LEFT JOIN (
  SELECT service, argMax(p95, total) AS p95, argMax(p99, total) AS p99 FROM (
    SELECT service, arraySum(buckets) AS total, ${quantile(0.95)} AS p95, ${quantile(0.99)} AS p99
    FROM (SELECT service, bounds, scale, sumForEach(b) AS buckets FROM (${bucketPoints(filter)}) GROUP BY service, bounds, scale)
  ) GROUP BY service
) AS l ON l.service = r.service
WHERE $__conditionalAll(r.service != '', $env)
ORDER BY health = 'ok', error_ratio DESC, rps DESC`;

const rateSeries = `
SELECT $__timeInterval(t) AS time, service, ${pick('n')} / ($__interval_s) AS rps
FROM (${requestPoints(filter)})
GROUP BY time, service ORDER BY time`;

const errorSeries = `
SELECT $__timeInterval(t) AS time, service, ${pick('if(err, n, 0)')} / nullIf(${pick('n')}, 0) AS error_ratio
FROM (${requestPoints(filter)})
GROUP BY time, service ORDER BY time`;

const p95Series = `
SELECT time, service, argMax(p95, total) AS p95 FROM (
  SELECT time, service, arraySum(buckets) AS total, ${quantile(0.95)} AS p95
  FROM (
    SELECT $__timeInterval(t) AS time, service, bounds, scale, sumForEach(b) AS buckets
    FROM (${bucketPoints(filter)}) GROUP BY time, service, bounds, scale
  )
) GROUP BY time, service ORDER BY time`;

const incidentCounts = `
SELECT countIf(status != 'resolved') AS open, countIf(status != 'resolved' AND priority IN ('P1', 'P2')) AS p1_p2,
  countIf(status = 'open') AS unacknowledged
FROM incidents FINAL
WHERE first_seen <= ($__toTime)`;

const firing = `
SELECT countIf(status = 'firing') AS firing_alerts FROM (${latestAlerts(servicesFilter('service'))})`;

const openIncidents = `
SELECT i.id AS id, i.priority AS priority, i.status AS status, i.title AS title,
  ifNull(c.name, ${ROOT_CAUSE_ID}) AS root_cause, i.alert_count AS alerts,
  i.first_seen AS opened, dateDiff('minute', i.first_seen, ($__toTime)) AS age_min
FROM (SELECT * FROM incidents FINAL WHERE status != 'resolved' AND first_seen <= ($__toTime)) AS i
LEFT JOIN (SELECT id, name FROM cmdb_ci FINAL) AS c ON c.id = ${ROOT_CAUSE_ID}
ORDER BY i.priority, i.first_seen DESC LIMIT 50`;

const topAnomalies = `
SELECT starts_at, service, labels['alertname'] AS alert, kind, severity, round(score, 3) AS score,
  annotations['summary'] AS summary, observed, expected
FROM (${latestAlerts(servicesFilter('service'))})
WHERE status = 'firing' AND last_at >= ($__fromTime)
ORDER BY score DESC, starts_at DESC LIMIT 20`;

export function sreOverview(): Dashboard {
  return dashboard({
    uid: 'opsight-sre-overview',
    title: 'opsight / SRE overview',
    description:
      'Every service with its rate, errors and duration, its health, open incidents and the strongest anomalies.',
    tags: ['sre'],
    variables: [datasourceVariable(), envVariable(), serviceVariable({ multi: true })],
    items: [
      stat({
        title: 'Open incidents',
        w: 6,
        h: 4,
        target: sql(incidentCounts, 'table'),
        field: 'open',
        steps: [
          [null, 'green'],
          [1, 'orange'],
        ],
      }),
      stat({
        title: 'Open P1/P2',
        w: 6,
        h: 4,
        target: sql(incidentCounts, 'table'),
        field: 'p1_p2',
        steps: [
          [null, 'green'],
          [1, 'red'],
        ],
      }),
      stat({
        title: 'Not yet acknowledged',
        w: 6,
        h: 4,
        target: sql(incidentCounts, 'table'),
        field: 'unacknowledged',
        steps: [
          [null, 'green'],
          [1, 'orange'],
        ],
      }),
      stat({
        title: 'Firing alerts',
        w: 6,
        h: 4,
        target: sql(firing, 'table'),
        field: 'firing_alerts',
        steps: [
          [null, 'green'],
          [1, 'orange'],
          [10, 'red'],
        ],
      }),
      { row: 'Services' },
      {
        type: 'table',
        title: 'Services: rate, errors, duration, health',
        description:
          'Requests from *_requests_total counters or http.server.request.duration histograms; health from the firing alerts of the service.',
        w: 24,
        h: 9,
        targets: [sql(red, 'table')],
        options: { showHeader: true, sortBy: [{ displayName: 'error_ratio', desc: true }], cellHeight: 'sm' },
        fieldConfig: fieldConfig({ custom: { align: 'auto' } }, [
          byName('rps', { unit: 'reqps', decimals: 2, displayName: 'req/s' }),
          byName('error_ratio', {
            unit: 'percentunit',
            decimals: 2,
            'custom.cellOptions': { type: 'color-background' },
            thresholds: thresholds([
              [null, 'green'],
              [0.05, 'orange'],
              [0.2, 'red'],
            ]),
          }),
          byName('p95', { unit: 's', decimals: 3 }),
          byName('p99', { unit: 's', decimals: 3 }),
          byName('health', {
            'custom.cellOptions': { type: 'color-text' },
            mappings: [
              {
                type: 'value',
                options: {
                  ok: { color: 'green', index: 0 },
                  degraded: { color: 'orange', index: 1 },
                  critical: { color: 'red', index: 2 },
                },
              },
            ],
          }),
          byName('service', {
            links: [
              {
                title: 'Service detail',
                url: '/d/opsight-service-detail?var-service=${__value.raw}&${__url_time_range}',
              },
            ],
          }),
        ]),
      },
      {
        type: 'timeseries',
        title: 'Request rate',
        w: 8,
        h: 8,
        targets: [sql(rateSeries, 'time_series')],
        fieldConfig: fieldConfig({ unit: 'reqps', custom: { drawStyle: 'line', fillOpacity: 10 } }),
        options: {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        type: 'timeseries',
        title: 'Error ratio',
        w: 8,
        h: 8,
        targets: [sql(errorSeries, 'time_series')],
        fieldConfig: fieldConfig({
          unit: 'percentunit',
          custom: { drawStyle: 'line', thresholdsStyle: { mode: 'dashed' } },
          thresholds: thresholds([
            [null, 'green'],
            [0.05, 'orange'],
            [0.2, 'red'],
          ]),
        }),
        options: {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        type: 'timeseries',
        title: 'p95 duration',
        w: 8,
        h: 8,
        targets: [sql(p95Series, 'time_series')],
        fieldConfig: fieldConfig({ unit: 's', custom: { drawStyle: 'line' } }),
        options: {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      { row: 'Incidents and anomalies' },
      {
        type: 'table',
        title: 'Open incidents',
        w: 12,
        h: 9,
        targets: [sql(openIncidents, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('opened', { unit: 'dateTimeAsIso' }),
          byName('age_min', { unit: 'm', displayName: 'age' }),
          byName('id', {
            links: [{ title: 'Incidents', url: '/d/opsight-incidents?${__url_time_range}' }],
          }),
        ]),
        options: { showHeader: true, cellHeight: 'sm' },
      },
      {
        type: 'table',
        title: 'Top anomalies (firing, by score)',
        w: 12,
        h: 9,
        targets: [sql(topAnomalies, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('starts_at', { unit: 'dateTimeAsIso', displayName: 'since' }),
          byName('score', { 'custom.cellOptions': { type: 'gauge', mode: 'basic' }, min: 0, max: 1 }),
        ]),
        options: { showHeader: true, cellHeight: 'sm' },
      },
    ],
  });
}
