import type { Dashboard } from '@grafana/schema';
import {
  byName,
  byRegexp,
  customVariable,
  dashboard,
  datasourceVariable,
  fieldConfig,
  queryVariable,
  sql,
  thresholds,
} from './lib.ts';
import { ROOT_CAUSE_ID, envFilter, pick, requestPoints, servicesFilter } from './sql.ts';
import { envVariable } from './variables.ts';

/**
 * Incidents are versioned rows (ReplacingMergeTree by version): every query reads `FINAL`, the
 * newest version of each incident. "In the range" means open at some point in it.
 */

const incidentService = queryVariable(
  'service',
  'Service',
  `SELECT DISTINCT service FROM incidents FINAL WHERE service != '' AND first_seen <= ($__toTime) AND last_seen >= ($__fromTime) ORDER BY service`,
  { multi: true, includeAll: true },
);

const objective = customVariable(
  'objective',
  'SLO objective',
  ['0.99', '0.995', '0.999', '0.9995', '0.9999'],
  '0.999',
);

const INCIDENTS = `(
  SELECT * FROM incidents FINAL
  WHERE first_seen <= ($__toTime) AND (last_seen >= ($__fromTime) OR status != 'resolved')
    AND $__conditionalAll(service IN (\${service}), $service)
)`;

const CI_NAMES = `(SELECT id, name FROM cmdb_ci FINAL)`;

const counts = `
SELECT countIf(status = 'open') AS open, countIf(status = 'acknowledged') AS acknowledged,
  countIf(status = 'resolved' AND resolved_at >= ($__fromTime)) AS resolved,
  avgIf(dateDiff('second', first_seen, acknowledged_at), isNotNull(acknowledged_at)) AS mtta,
  avgIf(dateDiff('second', first_seen, resolved_at), isNotNull(resolved_at)) AS mttr
FROM ${INCIDENTS}`;

/** Alert notifications per incident: distinct alerts received in the range over incidents opened in it. */
const compression = `
SELECT a.alerts AS alerts, i.incidents AS incidents, a.alerts / nullIf(i.incidents, 0) AS compression
FROM (
  SELECT uniqExact(fingerprint) AS alerts FROM alerts
  WHERE $__timeFilter(received_at) AND $__conditionalAll(service IN (\${service}), $service)
) AS a
CROSS JOIN (
  SELECT count() AS incidents FROM incidents FINAL
  WHERE $__timeFilter(first_seen) AND $__conditionalAll(service IN (\${service}), $service)
) AS i`;

const opened = `
SELECT $__timeInterval(first_seen) AS time, if(priority = '', 'none', priority) AS priority, count() AS incidents
FROM incidents FINAL
WHERE $__timeFilter(first_seen) AND $__conditionalAll(service IN (\${service}), $service)
GROUP BY time, priority ORDER BY time`;

const alertsVsIncidents = `
SELECT time, sum(alerts) AS alerts, sum(incidents) AS incidents FROM (
  SELECT $__timeInterval(received_at) AS time, uniqExact(fingerprint) AS alerts, 0 AS incidents FROM alerts
  WHERE $__timeFilter(received_at) AND $__conditionalAll(service IN (\${service}), $service) GROUP BY time
  UNION ALL
  SELECT $__timeInterval(first_seen) AS time, 0 AS alerts, count() AS incidents FROM incidents FINAL
  WHERE $__timeFilter(first_seen) AND $__conditionalAll(service IN (\${service}), $service) GROUP BY time
) GROUP BY time ORDER BY time`;

const openTable = `
SELECT i.id AS id, i.priority AS priority, i.status AS status, i.title AS title,
  ifNull(c.name, ${ROOT_CAUSE_ID}) AS root_cause, JSONExtractString(root_causes, 1, 'reason') AS why,
  JSONExtractString(known_errors, 1, 'id') AS known_error, JSONExtractString(known_errors, 1, 'workaround') AS workaround,
  i.alert_count AS alerts, length(i.affected_cis) AS cis, length(i.blast_radius) AS blast_radius,
  JSONExtractString(i.changes, 1, 'id') AS suspect_change, i.first_seen AS opened, i.acknowledged_at AS acknowledged
FROM ${INCIDENTS} AS i
LEFT JOIN ${CI_NAMES} AS c ON c.id = ${ROOT_CAUSE_ID}
WHERE i.status != 'resolved'
ORDER BY i.priority, i.first_seen DESC LIMIT 100`;

const resolvedTable = `
SELECT i.id AS id, i.priority AS priority, i.title AS title, ifNull(c.name, ${ROOT_CAUSE_ID}) AS root_cause,
  JSONExtractString(known_errors, 1, 'id') AS known_error, JSONExtractString(known_errors, 1, 'title') AS known_error_title,
  i.alert_count AS alerts, i.first_seen AS opened,
  dateDiff('second', i.first_seen, i.acknowledged_at) AS tta, dateDiff('second', i.first_seen, i.resolved_at) AS ttr
FROM ${INCIDENTS} AS i
LEFT JOIN ${CI_NAMES} AS c ON c.id = ${ROOT_CAUSE_ID}
WHERE i.status = 'resolved'
ORDER BY i.resolved_at DESC LIMIT 100`;

const alertsPerIncident = `
SELECT id, title, alert_count AS alerts FROM ${INCIDENTS} ORDER BY alerts DESC LIMIT 20`;

const slo = `
SELECT service, requests, errors, 1 - errors / nullIf(requests, 0) AS availability, toFloat64('\${objective}') AS objective,
  1 - (errors / nullIf(requests, 0)) / (1 - toFloat64('\${objective}')) AS budget_left,
  if(1 - errors / nullIf(requests, 0) >= toFloat64('\${objective}'), 'met', 'missed') AS slo
FROM (
  SELECT service, ${pick('n')} AS requests, ${pick('if(err, n, 0)')} AS errors
  FROM (${requestPoints(`${envFilter} AND ${servicesFilter('ServiceName')}`)})
  GROUP BY service
)
WHERE requests > 0
ORDER BY availability`;

const sloOverTime = `
SELECT $__timeInterval(t) AS time, service, 1 - ${pick('if(err, n, 0)')} / nullIf(${pick('n')}, 0) AS availability
FROM (${requestPoints(`${envFilter} AND ${servicesFilter('ServiceName')}`)})
GROUP BY time, service ORDER BY time`;

const SECONDS = { unit: 's', decimals: 0 };

export function incidents(): Dashboard {
  return dashboard({
    uid: 'opsight-incidents',
    title: 'opsight / Incidents',
    description:
      'Open and resolved incidents with their triage (root cause, known error, suspect change), MTTA and MTTR, alert-to-incident compression, and SLO attainment per service.',
    tags: ['incidents', 'oncall'],
    time: { from: 'now-24h', to: 'now' },
    variables: [datasourceVariable(), envVariable(), incidentService, objective],
    items: [
      ...(
        [
          [
            'open',
            'Open',
            [
              [null, 'green'],
              [1, 'red'],
            ],
          ],
          [
            'acknowledged',
            'Acknowledged',
            [
              [null, 'green'],
              [1, 'orange'],
            ],
          ],
          ['resolved', 'Resolved in range', [[null, 'blue']]],
        ] as const
      ).map(([field, title, steps]) => ({
        type: 'stat',
        title,
        w: 4,
        h: 4,
        targets: [sql(counts, 'table')],
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: `/^${field}$/`, values: false },
          colorMode: 'background',
        },
        fieldConfig: fieldConfig({
          thresholds: thresholds(steps.map(([v, c]) => [v, c] as [number | null, string])),
        }),
      })),
      {
        type: 'stat',
        title: 'MTTA',
        description: 'Mean time from an incident opening to its acknowledgement.',
        w: 4,
        h: 4,
        targets: [sql(counts, 'table')],
        options: { reduceOptions: { calcs: ['lastNotNull'], fields: '/^mtta$/', values: false } },
        fieldConfig: fieldConfig(SECONDS),
      },
      {
        type: 'stat',
        title: 'MTTR',
        description: 'Mean time from an incident opening to its resolution.',
        w: 4,
        h: 4,
        targets: [sql(counts, 'table')],
        options: { reduceOptions: { calcs: ['lastNotNull'], fields: '/^mttr$/', values: false } },
        fieldConfig: fieldConfig(SECONDS),
      },
      {
        type: 'stat',
        title: 'Alerts per incident',
        description: 'Compression: distinct alerts received in the range / incidents opened in it.',
        w: 4,
        h: 4,
        targets: [sql(compression, 'table')],
        options: { reduceOptions: { calcs: ['lastNotNull'], fields: '/^compression$/', values: false } },
        fieldConfig: fieldConfig({ decimals: 1, unit: 'x' }),
      },
      {
        type: 'timeseries',
        title: 'Incidents opened by priority',
        w: 12,
        h: 8,
        targets: [sql(opened, 'time_series')],
        fieldConfig: fieldConfig(
          { custom: { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 } },
          [byRegexp('/P1/', { color: { mode: 'fixed', fixedColor: 'red' } })],
        ),
      },
      {
        type: 'timeseries',
        title: 'Alerts received vs incidents opened',
        w: 12,
        h: 8,
        targets: [sql(alertsVsIncidents, 'time_series')],
        fieldConfig: fieldConfig({ custom: { drawStyle: 'bars', fillOpacity: 60 } }, [
          byName('incidents', { color: { mode: 'fixed', fixedColor: 'red' } }),
        ]),
      },
      { row: 'Incidents' },
      {
        type: 'table',
        title: 'Open incidents: root cause, known error, suspect change',
        w: 24,
        h: 9,
        targets: [sql(openTable, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('opened', { unit: 'dateTimeAsIso' }),
          byName('acknowledged', { unit: 'dateTimeAsIso' }),
          byName('priority', {
            'custom.cellOptions': { type: 'color-background' },
            mappings: [
              {
                type: 'value',
                options: { P1: { color: 'red', index: 0 }, P2: { color: 'orange', index: 1 } },
              },
            ],
          }),
        ]),
      },
      {
        type: 'table',
        title: 'Resolved incidents',
        w: 24,
        h: 8,
        targets: [sql(resolvedTable, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('opened', { unit: 'dateTimeAsIso' }),
          byName('tta', { ...SECONDS, displayName: 'time to acknowledge' }),
          byName('ttr', { ...SECONDS, displayName: 'time to resolve' }),
        ]),
      },
      {
        type: 'bargauge',
        title: 'Alerts per incident',
        w: 8,
        h: 9,
        targets: [sql(alertsPerIncident, 'table')],
        options: {
          reduceOptions: { calcs: [], fields: '/^alerts$/', values: true },
          orientation: 'horizontal',
          displayMode: 'basic',
        },
      },
      { row: 'SLOs' },
      {
        type: 'table',
        title: 'SLO attainment per service (objective ${objective})',
        description:
          'Availability = 1 - errors / requests over the range (5xx), against the chosen objective; budget left is the share of the error budget not spent.',
        w: 12,
        h: 9,
        targets: [sql(slo, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('availability', { unit: 'percentunit', decimals: 3 }),
          byName('objective', { unit: 'percentunit', decimals: 2 }),
          byName('budget_left', {
            unit: 'percentunit',
            decimals: 1,
            'custom.cellOptions': { type: 'color-background' },
            thresholds: thresholds([
              [null, 'red'],
              [0, 'orange'],
              [0.25, 'green'],
            ]),
          }),
          byName('slo', {
            'custom.cellOptions': { type: 'color-text' },
            mappings: [
              {
                type: 'value',
                options: { met: { color: 'green', index: 0 }, missed: { color: 'red', index: 1 } },
              },
            ],
          }),
        ]),
      },
      {
        type: 'timeseries',
        title: 'Availability',
        w: 12,
        h: 9,
        targets: [sql(sloOverTime, 'time_series')],
        fieldConfig: fieldConfig({ unit: 'percentunit', min: 0.9, max: 1, decimals: 3 }),
      },
    ],
  });
}
