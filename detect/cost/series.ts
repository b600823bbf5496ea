import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { COST_DIMENSIONS, type CostDimension } from '../../core/config/detect/cost.ts';

/**
 * Usage cost per series and period from billing_focus, aggregated by ClickHouse. Only
 * `ChargeCategory = 'Usage'` rows build a series: a credit, adjustment, purchase or tax line
 * would both hide a usage spike and fake a dip. Each (series, period) also returns a digest
 * (row count and the exact decimal sum), so late or restated data shows as a changed digest.
 */

export interface SeriesSpec {
  dimensions: readonly CostDimension[];
  tagKeys: readonly string[];
  costColumn: 'BilledCost' | 'EffectiveCost' | 'ListCost';
  granularity: 'daily' | 'hourly';
}

/** A series' identity: its dimension values, tag values and currency, in spec order. */
export interface SeriesId {
  dims: Record<string, string>;
  tags: Record<string, string>;
  currency: string;
}

export interface PeriodRow extends SeriesId {
  key: string;
  /** Period start, ms UTC. */
  at: number;
  cost: number;
  /** `<rows>:<exact sum>`; changes when a period's rows change. */
  digest: string;
}

/** Dimension and cost column names are identifiers: only the closed list may reach SQL. */
function column(name: string): string {
  if (
    !(COST_DIMENSIONS as readonly string[]).includes(name) &&
    !['BilledCost', 'EffectiveCost', 'ListCost'].includes(name)
  )
    throw new Error(`not a cost series column: ${name}`);
  return name;
}

export const seriesKey = (id: SeriesId, spec: SeriesSpec): string =>
  JSON.stringify([
    ...spec.dimensions.map((d) => id.dims[d] ?? ''),
    ...spec.tagKeys.map((k) => id.tags[k] ?? ''),
    id.currency,
  ]);

export function periodExpr(spec: SeriesSpec): string {
  const start = spec.granularity === 'daily' ? 'toStartOfDay' : 'toStartOfHour';
  return `toUnixTimestamp(${start}(ChargePeriodStart, 'UTC')) * 1000`;
}

/** WHERE conditions (and their parameters) selecting one series' Usage rows. */
export function seriesFilter(
  id: SeriesId,
  spec: SeriesSpec,
): { sql: string; params: Record<string, string> } {
  const conds = ["ChargeCategory = 'Usage'", 'BillingCurrency = {currency:String}'];
  const params: Record<string, string> = { currency: id.currency };
  spec.dimensions.forEach((d, i) => {
    conds.push(`${column(d)} = {d${i}:String}`);
    params[`d${i}`] = id.dims[d] ?? '';
  });
  spec.tagKeys.forEach((k, i) => {
    conds.push(`Tags[{tk${i}:String}] = {tv${i}:String}`);
    params[`tk${i}`] = k;
    params[`tv${i}`] = id.tags[k] ?? '';
  });
  return { sql: conds.join(' AND '), params };
}

/** Every series' usage cost per period in [from, to) (ms UTC). */
export async function fetchPeriods(
  client: ClickHouseClient,
  spec: SeriesSpec,
  from: number,
  to: number,
): Promise<PeriodRow[]> {
  const dims = spec.dimensions.map((d, i) => `${column(d)} AS d${i}`);
  const tags = spec.tagKeys.map((_, i) => `Tags[{tk${i}:String}] AS t${i}`);
  const params: Record<string, unknown> = { from, to };
  spec.tagKeys.forEach((k, i) => (params[`tk${i}`] = k));
  const cost = column(spec.costColumn);
  const groups = [
    ...spec.dimensions.map((_, i) => `d${i}`),
    ...spec.tagKeys.map((_, i) => `t${i}`),
    'currency',
    'at',
  ];
  const rs = await client.query({
    query: `SELECT ${[...dims, ...tags].join(', ')}, BillingCurrency AS currency, ${periodExpr(spec)} AS at,
              count() AS n, toString(sum(${cost})) AS total, toFloat64(sum(${cost})) AS cost
            FROM billing_focus
            WHERE ChargeCategory = 'Usage'
              AND ChargePeriodStart >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
              AND ChargePeriodStart < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
            GROUP BY ${groups.join(', ')}`,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const out: PeriodRow[] = [];
  for (const r of await rs.json<Record<string, string | number>>()) {
    const id: SeriesId = { dims: {}, tags: {}, currency: String(r.currency) };
    spec.dimensions.forEach((d, i) => (id.dims[d] = String(r[`d${i}`] ?? '')));
    spec.tagKeys.forEach((k, i) => (id.tags[k] = String(r[`t${i}`] ?? '')));
    out.push({
      ...id,
      key: seriesKey(id, spec),
      at: Number(r.at),
      cost: Number(r.cost),
      digest: `${r.n}:${r.total}`,
    });
  }
  return out;
}

/** A readable name for the series, e.g. `AWS / 1135 / Amazon EC2 (USD)`. */
export function seriesName(id: SeriesId, spec: SeriesSpec): string {
  const parts = [
    ...spec.dimensions.map((d) => id.dims[d] || '-'),
    ...spec.tagKeys.map((k) => `${k}=${id.tags[k] ?? ''}`),
  ];
  return `${parts.join(' / ')} (${id.currency})`;
}

const literal = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The query behind an alert, with values inlined, for a person to paste (never executed here). */
export function evidenceQuery(id: SeriesId, spec: SeriesSpec, from: number, to: number): string {
  const { sql, params } = seriesFilter(id, spec);
  const inlined = sql.replace(/\{(\w+):String\}/g, (_, name: string) => literal(params[name] ?? ''));
  const iso = (t: number) => literal(new Date(t).toISOString().slice(0, 19).replace('T', ' '));
  const period = spec.granularity === 'daily' ? 'toStartOfDay' : 'toStartOfHour';
  return (
    `SELECT ${period}(ChargePeriodStart, 'UTC') AS period, sum(${column(spec.costColumn)}) AS cost ` +
    `FROM billing_focus WHERE ${inlined} AND ChargePeriodStart >= ${iso(from)} AND ChargePeriodStart < ${iso(to)} ` +
    'GROUP BY period ORDER BY period'
  );
}
