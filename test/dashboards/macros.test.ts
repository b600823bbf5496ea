import { describe, expect, it } from 'vitest';
import {
  applyConditionalAll,
  expandQuery,
  interpolateBackend,
  replaceVariables,
} from '../support/grafana-macros.ts';

const from = new Date('2026-11-23T06:00:00.123Z');
const to = new Date('2026-11-23T12:00:00.456Z');
const ctx = { from, to, intervalMs: 30_000, variables: {} };
const f = Math.floor(from.getTime() / 1000);
const t = Math.floor(to.getTime() / 1000);

describe('the plugin macros (pkg/macros/macros.go)', () => {
  it('expands time filters, times and intervals as the plugin does', () => {
    expect(interpolateBackend('WHERE $__timeFilter(ts)', ctx)).toBe(
      `WHERE ts >= toDateTime(${f}) AND ts <= toDateTime(${t})`,
    );
    expect(interpolateBackend('WHERE $__timeFilter_ms(ts)', ctx)).toBe(
      `WHERE ts >= fromUnixTimestamp64Milli(${from.getTime()}) AND ts <= fromUnixTimestamp64Milli(${to.getTime()})`,
    );
    expect(interpolateBackend('$__dateFilter(d)', ctx)).toBe(
      "d >= toDate('2026-11-23') AND d <= toDate('2026-11-23')",
    );
    expect(interpolateBackend('$__dt(d, ts)', ctx)).toBe(
      `(d >= toDate('2026-11-23') AND d <= toDate('2026-11-23')) AND (ts >= toDateTime(${f}) AND ts <= toDateTime(${t}))`,
    );
    expect(interpolateBackend('SELECT $__timeInterval(ts) AS time', ctx)).toBe(
      'SELECT toStartOfInterval(toDateTime(ts), INTERVAL 30 second) AS time',
    );
    expect(interpolateBackend('$__timeInterval_ms(ts)', ctx)).toBe(
      'toStartOfInterval(toDateTime64(ts, 3), INTERVAL 30000 millisecond)',
    );
    expect(interpolateBackend('x / ($__interval_s)', { ...ctx, intervalMs: 200 })).toBe('x / (1)');
    expect(interpolateBackend('($__fromTime, $__toTime_ms)', ctx)).toBe(
      `(toDateTime(${f}), fromUnixTimestamp64Milli(${to.getTime()}))`,
    );
  });

  it('finds arguments as the SDK does: the next parenthesis, even for a macro without arguments', () => {
    // The SDK takes `$__interval_s + f(x)` as one macro call and replaces all of it.
    expect(interpolateBackend('SELECT $__interval_s + f(x)', ctx)).toBe('SELECT 30');
    expect(() => interpolateBackend('$__timeFilter(a, b)', ctx)).toThrow(/expected 1 argument, received 2/);
  });
});

describe('variables and $__conditionalAll (the plugin frontend and Grafana)', () => {
  const variables = { env: '$__all', service: ['checkout', 'payments-api'], one: 'search', empty: '' };

  it('drops a conditional filter for All or an empty value and keeps it otherwise', () => {
    expect(
      applyConditionalAll(
        'WHERE $__conditionalAll(e IN (${env}), $env) AND $__conditionalAll(s IN (${service}), $service)',
        variables,
      ),
    ).toBe('WHERE 1=1 AND s IN (${service})');
    expect(applyConditionalAll('$__conditionalAll(x = 1, ${empty})', variables)).toBe('1=1');
  });

  it('formats lists quoted and single values as they are, All as every option', () => {
    const c = { ...ctx, variables, options: { env: ['prod', 'staging'] } };
    expect(replaceVariables("s IN (${service}) AND one = '$one' AND e IN ($env) AND [[one]]", c)).toBe(
      "s IN ('checkout','payments-api') AND one = 'search' AND e IN ('prod','staging') AND search",
    );
    expect(replaceVariables('${service:csv} ${one:singlequote} $__interval $__from', c)).toBe(
      `checkout,payments-api 'search' 30s ${from.getTime()}`,
    );
    // Macros and unknown names stay for the backend.
    expect(replaceVariables('$__timeFilter(t) $unknown', c)).toBe('$__timeFilter(t) $unknown');
  });

  it("expands a whole query in Grafana's order", () => {
    const sql =
      "SELECT $__timeInterval(t) AS time FROM x WHERE $__timeFilter(t) AND $__conditionalAll(s IN (${service}), $service) AND e = '${one}'";
    expect(expandQuery(sql, { ...ctx, variables })).toBe(
      `SELECT toStartOfInterval(toDateTime(t), INTERVAL 30 second) AS time FROM x WHERE t >= toDateTime(${f}) AND t <= toDateTime(${t}) AND s IN ('checkout','payments-api') AND e = 'search'`,
    );
  });
});
