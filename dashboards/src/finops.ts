import type { Dashboard } from '@grafana/schema';
import { byName, dashboard, datasourceVariable, fieldConfig, queryVariable, sql, stat } from './lib.ts';
import { latestAlerts } from './sql.ts';

/**
 * Money stays Decimal(38, 15) through every sum (exact, credits included); only the display
 * rounds. Amounts are in the chosen billing currency, never summed across currencies.
 */

const providerVariable = queryVariable(
  'provider',
  'Provider',
  `SELECT DISTINCT ProviderName FROM billing_focus WHERE $__timeFilter(ChargePeriodStart) ORDER BY ProviderName`,
  { multi: true, includeAll: true },
);

// Two columns: the plugin takes the first as the value and the second as the text.
const accountVariable = queryVariable(
  'account',
  'Account',
  `SELECT SubAccountId, if(any(SubAccountName) != '', concat(any(SubAccountName), ' (', SubAccountId, ')'), SubAccountId) AS name
FROM billing_focus
WHERE $__timeFilter(ChargePeriodStart) AND $__conditionalAll(ProviderName IN (\${provider}), $provider)
GROUP BY SubAccountId ORDER BY name`,
  { multi: true, includeAll: true },
);

// The application a line belongs to: its `service` tag (cloud services are a column of their own).
const appVariable = queryVariable(
  'service',
  'Application (tag service)',
  `SELECT DISTINCT Tags['service'] AS app FROM billing_focus
WHERE $__timeFilter(ChargePeriodStart) AND Tags['service'] != '' AND $__conditionalAll(SubAccountId IN (\${account}), $account)
ORDER BY app`,
  { multi: true, includeAll: true },
);

const currencyVariable = queryVariable(
  'currency',
  'Currency',
  `SELECT BillingCurrency FROM billing_focus WHERE $__timeFilter(ChargePeriodStart) AND BillingCurrency != ''
GROUP BY BillingCurrency ORDER BY count() DESC`,
);

const filter = `$__timeFilter(ChargePeriodStart) AND BillingCurrency = '\${currency}'
  AND $__conditionalAll(ProviderName IN (\${provider}), $provider) AND $__conditionalAll(SubAccountId IN (\${account}), $account)
  AND $__conditionalAll(Tags['service'] IN (\${service}), $service)`;

const money = (col: string) => `round(sum(${col}), 2)`;

const totals = `
SELECT ${money('BilledCost')} AS billed, ${money('EffectiveCost')} AS effective,
  round(sum(BilledCost) / greatest(dateDiff('day', min(toDate(ChargePeriodStart)), max(toDate(ChargePeriodStart))) + 1, 1), 2) AS per_day
FROM billing_focus WHERE ${filter}`;

const perDay = `
SELECT toStartOfDay(ChargePeriodStart) AS time, ServiceName AS service, ${money('BilledCost')} AS cost
FROM billing_focus WHERE ${filter}
GROUP BY time, service ORDER BY time`;

const breakdown = (dim: string, label: string) => `
SELECT ${dim} AS ${label}, ${money('BilledCost')} AS billed, ${money('EffectiveCost')} AS effective,
  sum(BilledCost) / sum(sum(BilledCost)) OVER () AS share
FROM billing_focus WHERE ${filter}
GROUP BY ${label} ORDER BY billed DESC LIMIT 50`;

const topResources = `
SELECT ResourceId AS resource, any(ServiceName) AS service, any(RegionId) AS region, ${money('BilledCost')} AS billed
FROM billing_focus WHERE ${filter} AND ResourceId != ''
GROUP BY resource ORDER BY billed DESC LIMIT 20`;

const spikes = `
SELECT labels['period'] AS period, labels['ProviderName'] AS provider, labels['SubAccountId'] AS account,
  labels['ServiceName'] AS service, toDecimal64OrNull(annotations['actual'], 2) AS actual,
  toDecimal64OrNull(annotations['expected'], 2) AS expected, toDecimal64OrNull(annotations['increase'], 2) AS increase,
  toFloat64OrNull(annotations['increase']) / nullIf(toFloat64OrNull(annotations['expected']), 0) AS increase_ratio,
  annotations['currency'] AS currency, severity, status, annotations['drivers_summary'] AS drivers
FROM (${latestAlerts("kind = 'cost_spike'", 60)})
WHERE last_at >= ($__fromTime) AND $__conditionalAll(labels['ProviderName'] IN (\${provider}), $provider)
  AND $__conditionalAll(labels['SubAccountId'] IN (\${account}), $account)
ORDER BY period DESC, increase DESC LIMIT 50`;

/** One row per driver line of each spike (the detector's drivers JSON). */
const drivers = `
SELECT period, account, service, JSONExtractString(d, 'skuId') AS sku, JSONExtractString(d, 'resourceId') AS resource,
  JSONExtractString(d, 'regionId') AS region, JSONExtractFloat(d, 'expected') AS expected,
  JSONExtractFloat(d, 'observed') AS actual, JSONExtractFloat(d, 'increase') AS increase,
  JSONExtractFloat(d, 'share') AS share, JSONExtractString(d, 'description') AS description
FROM (
  SELECT labels['period'] AS period, labels['SubAccountId'] AS account, labels['ServiceName'] AS service,
    JSONExtractArrayRaw(annotations['drivers']) AS ds
  FROM (${latestAlerts("kind = 'cost_spike'", 60)})
  WHERE last_at >= ($__fromTime) AND $__conditionalAll(labels['ProviderName'] IN (\${provider}), $provider)
    AND $__conditionalAll(labels['SubAccountId'] IN (\${account}), $account)
)
ARRAY JOIN ds AS d
ORDER BY period DESC, increase DESC LIMIT 100`;

const firingSpikes = `
SELECT countIf(status = 'firing') AS firing_spikes FROM (${latestAlerts("kind = 'cost_spike'", 60)})`;

/** Daily usage cost of every (account, service) a cost alert named, to see the spike in context. */
const spikeSeries = `
SELECT toStartOfDay(ChargePeriodStart) AS time, concat(SubAccountId, ' / ', ServiceName) AS series, ${money('BilledCost')} AS actual
FROM billing_focus
WHERE ${filter} AND ChargeCategory = 'Usage' AND (SubAccountId, ServiceName) IN (
  SELECT labels['SubAccountId'], labels['ServiceName'] FROM alerts
  WHERE kind = 'cost_spike' AND received_at >= ($__fromTime) AND received_at <= ($__toTime)
)
GROUP BY time, series ORDER BY time`;

const spikeExpected = `
SELECT parseDateTimeBestEffort(labels['period']) AS time, argMax(evidence_expected, received_at) AS expected,
  argMax(evidence_upper, received_at) AS upper
FROM alerts
WHERE kind = 'cost_spike' AND received_at >= ($__fromTime) AND received_at <= ($__toTime)
GROUP BY time ORDER BY time`;

const DECIMALS = { decimals: 2 };

export function finops(): Dashboard {
  return dashboard({
    uid: 'opsight-finops',
    title: 'opsight / FinOps',
    description:
      'Cloud cost from FOCUS billing data per service, account, region and day, and the cost spikes the detector raised with expected vs actual and their drivers.',
    tags: ['finops'],
    time: { from: 'now-30d', to: 'now' },
    variables: [datasourceVariable(), providerVariable, accountVariable, appVariable, currencyVariable],
    items: [
      stat({
        title: 'Billed (${currency})',
        w: 6,
        h: 4,
        target: sql(totals, 'table'),
        field: 'billed',
        config: DECIMALS,
      }),
      stat({
        title: 'Effective, amortised (${currency})',
        w: 6,
        h: 4,
        target: sql(totals, 'table'),
        field: 'effective',
        config: DECIMALS,
      }),
      stat({
        title: 'Average per day (${currency})',
        w: 6,
        h: 4,
        target: sql(totals, 'table'),
        field: 'per_day',
        config: DECIMALS,
      }),
      stat({
        title: 'Cost spikes firing',
        w: 6,
        h: 4,
        target: sql(firingSpikes, 'table'),
        field: 'firing_spikes',
        steps: [
          [null, 'green'],
          [1, 'orange'],
        ],
      }),
      {
        type: 'timeseries',
        title: 'Cost per day by cloud service (${currency})',
        w: 24,
        h: 9,
        targets: [sql(perDay, 'time_series')],
        fieldConfig: fieldConfig({
          ...DECIMALS,
          custom: { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 },
        }),
        options: { legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['sum'] } },
      },
      { row: 'Breakdown' },
      ...(
        [
          ['ServiceName', 'service', 'By cloud service'],
          ['SubAccountId', 'account', 'By account'],
          ['RegionId', 'region', 'By region'],
        ] as const
      ).map(([dim, label, title]) => ({
        type: 'table',
        title: `${title} (\${currency})`,
        w: 8,
        h: 9,
        targets: [sql(breakdown(dim, label), 'table')],
        fieldConfig: fieldConfig(DECIMALS, [
          byName('share', {
            unit: 'percentunit',
            'custom.cellOptions': { type: 'gauge', mode: 'basic' },
            min: 0,
            max: 1,
          }),
        ]),
      })),
      {
        type: 'table',
        title: 'By application (tag service) (${currency})',
        w: 12,
        h: 9,
        targets: [
          sql(breakdown(`if(Tags['service'] != '', Tags['service'], '(untagged)')`, 'application'), 'table'),
        ],
        fieldConfig: fieldConfig(DECIMALS, [byName('share', { unit: 'percentunit' })]),
      },
      {
        type: 'table',
        title: 'Top resources (${currency})',
        w: 12,
        h: 9,
        targets: [sql(topResources, 'table')],
        fieldConfig: fieldConfig(DECIMALS),
      },
      { row: 'Cost spikes' },
      {
        type: 'table',
        title: 'Cost spikes: expected vs actual, and drivers',
        description:
          'From the cost detector: the period, its cost against what comparable periods cost, and the SKU / resource / region lines that explain the increase.',
        w: 24,
        h: 9,
        targets: [sql(spikes, 'table')],
        fieldConfig: fieldConfig(DECIMALS, [
          byName('increase_ratio', { unit: 'percentunit', displayName: 'increase %' }),
          byName('drivers', { 'custom.width': 600 }),
          byName('status', {
            mappings: [
              {
                type: 'value',
                options: { firing: { color: 'red', index: 0 }, resolved: { color: 'green', index: 1 } },
              },
            ],
            'custom.cellOptions': { type: 'color-text' },
          }),
        ]),
      },
      {
        type: 'table',
        title: 'Spike drivers: the lines that explain the increase',
        w: 24,
        h: 7,
        targets: [sql(drivers, 'table')],
        fieldConfig: fieldConfig(DECIMALS, [
          byName('share', {
            unit: 'percentunit',
            'custom.cellOptions': { type: 'gauge', mode: 'basic' },
            min: 0,
            max: 1,
          }),
        ]),
      },
      {
        type: 'timeseries',
        title: 'Flagged series: daily usage cost vs expected',
        w: 24,
        h: 8,
        targets: [sql(spikeSeries, 'time_series', 'A'), sql(spikeExpected, 'time_series', 'B')],
        fieldConfig: fieldConfig({ ...DECIMALS, custom: { drawStyle: 'line' } }, [
          byName('expected', {
            'custom.drawStyle': 'points',
            'custom.pointSize': 10,
            color: { mode: 'fixed', fixedColor: 'green' },
          }),
          byName('upper', {
            'custom.drawStyle': 'points',
            'custom.pointSize': 6,
            color: { mode: 'fixed', fixedColor: 'yellow' },
          }),
        ]),
      },
    ],
  });
}
