import type { Dashboard } from '@grafana/schema';
import { byName, byRegexp, dashboard, datasourceVariable, fieldConfig, queryVariable, sql } from './lib.ts';
import { logsEnvFilter, servicesFilter } from './sql.ts';
import { envVariable, serviceVariable } from './variables.ts';

const severityVariable = queryVariable(
  'severity',
  'Severity',
  `SELECT DISTINCT SeverityText FROM otel_logs
WHERE $__timeFilter(Timestamp) AND SeverityText != '' AND $__conditionalAll(ServiceName IN (\${service}), $service)
ORDER BY SeverityText`,
  { multi: true, includeAll: true },
);

const filter = `${logsEnvFilter} AND ${servicesFilter('ServiceName')} AND $__conditionalAll(SeverityText IN (\${severity}), $severity)`;

/** Templates as the miners wrote them: deltas merged per (service, template). */
const TEMPLATES = `(
  SELECT service, template_id, anyLast(template) AS template, anyLast(severity_text) AS severity,
    min(first_seen) AS first_seen, max(last_seen) AS last_seen, sum(count) AS total, any(sample) AS sample
  FROM log_templates GROUP BY service, template_id
)`;

const bySeverity = `
SELECT $__timeInterval(Timestamp) AS time, if(SeverityText = '', 'UNSET', SeverityText) AS severity, count() AS lines
FROM otel_logs
WHERE $__timeFilter(Timestamp) AND ${filter}
GROUP BY time, severity ORDER BY time`;

const byService = `
SELECT $__timeInterval(Timestamp) AS time, ServiceName AS service, count() AS lines
FROM otel_logs
WHERE $__timeFilter(Timestamp) AND ${filter}
GROUP BY time, service ORDER BY time`;

const byTemplate = `
SELECT $__timeInterval(l.Timestamp) AS time, concat(l.ServiceName, ': ', ifNull(t.template, l.TemplateId)) AS template, count() AS lines
FROM (
  SELECT Timestamp, ServiceName, TemplateId FROM otel_logs
  WHERE $__timeFilter(Timestamp) AND ${filter} AND TemplateId != ''
    AND (ServiceName, TemplateId) IN (
      SELECT ServiceName, TemplateId FROM otel_logs
      WHERE $__timeFilter(Timestamp) AND ${filter} AND TemplateId != ''
      GROUP BY ServiceName, TemplateId ORDER BY count() DESC LIMIT 10
    )
) AS l
LEFT JOIN ${TEMPLATES} AS t ON t.service = l.ServiceName AND t.template_id = l.TemplateId
GROUP BY time, template ORDER BY time`;

const templateTable = `
SELECT l.service AS service, l.template_id AS template_id, t.template AS template, t.severity AS severity,
  l.lines AS lines, l.lines / sum(l.lines) OVER () AS share, t.first_seen AS first_seen
FROM (
  SELECT ServiceName AS service, TemplateId AS template_id, count() AS lines FROM otel_logs
  WHERE $__timeFilter(Timestamp) AND ${filter} AND TemplateId != ''
  GROUP BY service, template_id
) AS l
LEFT JOIN ${TEMPLATES} AS t ON t.service = l.service AND t.template_id = l.template_id
ORDER BY lines DESC LIMIT 100`;

const newTemplates = `
SELECT first_seen, service, severity, template, total AS lines_since, sample, template_id
FROM ${TEMPLATES}
WHERE first_seen >= ($__fromTime) AND first_seen <= ($__toTime) AND ${servicesFilter('service')}
  AND $__conditionalAll(severity IN (\${severity}), $severity)
ORDER BY first_seen DESC LIMIT 100`;

const unmined = `
SELECT countIf(TemplateId = '') / greatest(count(), 1) AS unmined FROM otel_logs
WHERE $__timeFilter(Timestamp) AND ${filter}`;

export function logs(): Dashboard {
  return dashboard({
    uid: 'opsight-logs',
    title: 'opsight / Logs',
    description:
      'Log volume by severity, service and template (from the template miner), and templates first seen in the range.',
    tags: ['logs'],
    variables: [datasourceVariable(), envVariable(), serviceVariable({ multi: true }), severityVariable],
    items: [
      {
        type: 'timeseries',
        title: 'Volume by severity',
        w: 12,
        h: 8,
        targets: [sql(bySeverity, 'time_series')],
        fieldConfig: fieldConfig(
          { custom: { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 } },
          [
            byRegexp('/(error|fatal)/i', { color: { mode: 'fixed', fixedColor: 'red' } }),
            byRegexp('/warn/i', { color: { mode: 'fixed', fixedColor: 'orange' } }),
          ],
        ),
      },
      {
        type: 'timeseries',
        title: 'Volume by service',
        w: 12,
        h: 8,
        targets: [sql(byService, 'time_series')],
        fieldConfig: fieldConfig({
          custom: { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 },
        }),
      },
      {
        type: 'timeseries',
        title: 'Top 10 templates',
        w: 18,
        h: 8,
        targets: [sql(byTemplate, 'time_series')],
        fieldConfig: fieldConfig({ custom: { drawStyle: 'line', fillOpacity: 10 } }),
        options: { legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['sum'] } },
      },
      {
        type: 'stat',
        title: 'Lines without a template',
        description:
          'Lines the template miner has not stamped (ingest mines as it writes; older data may be unmined).',
        w: 6,
        h: 8,
        targets: [sql(unmined, 'table')],
        options: { reduceOptions: { calcs: ['lastNotNull'], fields: '/^unmined$/', values: false } },
        fieldConfig: fieldConfig({ unit: 'percentunit' }),
      },
      {
        type: 'table',
        title: 'Templates by volume',
        w: 12,
        h: 10,
        targets: [sql(templateTable, 'table')],
        fieldConfig: fieldConfig({}, [
          byName('share', {
            unit: 'percentunit',
            'custom.cellOptions': { type: 'gauge', mode: 'basic' },
            min: 0,
            max: 1,
          }),
          byName('first_seen', { unit: 'dateTimeAsIso' }),
        ]),
      },
      {
        type: 'table',
        title: 'New templates (first seen in the range)',
        w: 12,
        h: 10,
        targets: [sql(newTemplates, 'table')],
        fieldConfig: fieldConfig({}, [byName('first_seen', { unit: 'dateTimeAsIso' })]),
      },
    ],
  });
}
