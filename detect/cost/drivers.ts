import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { periodExpr, seriesFilter, type SeriesId, type SeriesSpec } from './series.ts';

/**
 * What explains a spike: the spike period against the mean of the baseline periods, broken down
 * by SKU, resource and region (ClickHouse does the breakdown), largest increase first, cut once
 * the lines named explain most of the increase.
 */

export interface Driver {
  skuId: string;
  resourceId: string;
  regionId: string;
  description: string;
  observed: number;
  expected: number;
  increase: number;
  /** Share of the increase (over all lines that grew) this line explains. */
  share: number;
}

/** Lines are named until together they explain this share of the increase. */
const EXPLAINED = 0.8;

export async function findDrivers(
  client: ClickHouseClient,
  spec: SeriesSpec,
  id: SeriesId,
  at: number,
  baseline: readonly number[],
  max: number,
): Promise<Driver[]> {
  const { sql, params } = seriesFilter(id, spec);
  const periods = [at, ...baseline];
  const rs = await client.query({
    query: `SELECT SkuId AS skuId, ResourceId AS resourceId, RegionId AS regionId,
              any(ChargeDescription) AS description,
              toFloat64(sumIf(${spec.costColumn}, p = {at:Int64})) AS observed,
              toFloat64(sumIf(${spec.costColumn}, p != {at:Int64})) / {n:UInt32} AS expected,
              sum(observed - expected) OVER () AS gross
            FROM (
              SELECT *, ${periodExpr(spec)} AS p FROM billing_focus
              WHERE ${sql}
                AND ChargePeriodStart >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
                AND ChargePeriodStart <= fromUnixTimestamp64Milli({to:Int64}, 'UTC')
            )
            WHERE has({periods:Array(Int64)}, p)
            GROUP BY skuId, resourceId, regionId
            HAVING observed > expected
            ORDER BY observed - expected DESC
            LIMIT {limit:UInt32}`,
    query_params: {
      ...params,
      at,
      n: Math.max(1, baseline.length),
      from: Math.min(...periods),
      to: Math.max(...periods) + (spec.granularity === 'daily' ? 86_400_000 : 3_600_000),
      periods,
      limit: max,
    },
    format: 'JSONEachRow',
  });
  const rows = await rs.json<Omit<Driver, 'increase' | 'share'> & { gross: number }>();
  // Shares are of the gross increase over every line that grew, not only the lines returned.
  const total = rows[0]?.gross ?? 0;
  const out: Driver[] = [];
  let explained = 0;
  for (const { gross: _, ...l } of rows) {
    const increase = l.observed - l.expected;
    out.push({ ...l, increase, share: total > 0 ? increase / total : 0 });
    explained += increase;
    if (total > 0 && explained / total >= EXPLAINED) break;
  }
  return out;
}
