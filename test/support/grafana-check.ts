import type { ClickHouseClient } from '@clickhouse/client';
import type { Dashboard, VariableModel } from '@grafana/schema';
import { expect } from 'vitest';
import {
  defaultRange,
  panelInterval,
  queriesOf,
  resolveVariables,
  runQuery,
  type VariableValue,
} from './grafana-dashboards.ts';

/**
 * The check every dashboard must pass on a database: each panel, variable and annotation query,
 * expanded as Grafana and the ClickHouse plugin expand it, runs and returns the columns its
 * panel reads, time series come sorted by time, and with All selected every query returns rows.
 * Shared by the seeded-fixture test (test/dashboards) and the demo's end-to-end test.
 */

export const DATE_TYPE = /^(Nullable\()?(Date|DateTime|DateTime64)\b/;

export type Choice = 'all' | 'some';

/** The single values a user focuses on when a variable takes one value. */
export interface Focus {
  focusService: string;
  focusMetric: string;
}

/** What a user picks: All (or the focus service for a single-value service), or real values. */
export function chooser(choice: Choice, focus: Focus) {
  return (v: VariableModel, options: string[]): VariableValue => {
    if (v.type === 'custom') return String(v.current?.value ?? options[0] ?? '');
    if (v.multi) {
      if (choice === 'all') return '$__all';
      return options.length ? options.slice(0, 2) : ['$__all'];
    }
    if (v.name === 'service' && options.includes(focus.focusService)) return focus.focusService;
    if (v.name === 'metric' && options.includes(focus.focusMetric)) return focus.focusMetric;
    return options[0] ?? '';
  };
}

/** Runs every query of one dashboard with the given choice and asserts what its panels need. */
export async function checkDashboard(
  client: ClickHouseClient,
  file: string,
  json: Dashboard,
  choice: Choice,
  focus: Focus,
  now = Date.now(),
): Promise<void> {
  const range = defaultRange(json, now);
  const { variables, options } = await resolveVariables(client, json, range, chooser(choice, focus));
  for (const v of json.templating?.list ?? []) {
    if (v.type === 'query')
      expect(options[v.name]?.length, `${file} variable ${v.name} has options`).toBeGreaterThan(0);
  }
  const ctx = { ...range, intervalMs: panelInterval(range), variables, options };
  const byPanel = new Map<string, { columns: Set<string>; need: string[]; patterns: RegExp[] }>();
  for (const q of queriesOf(json)) {
    const panelKey = q.where.replace(/ [A-Z]$/, '');
    let r;
    try {
      r = await runQuery(client, q.rawSql, ctx);
    } catch (err) {
      throw new Error(`${file} ${q.where} with ${JSON.stringify(variables)}: ${(err as Error).message}`);
    }
    const names = r.columns.map((c) => c.name);
    if (choice === 'all') expect(r.rows.length, `${file} ${q.where} returns rows`).toBeGreaterThan(0);
    if (q.format === 0) {
      const timeColumn = r.columns.find((c) => DATE_TYPE.test(c.type));
      expect(timeColumn, `${file} ${q.where}: a time column for a time series`).toBeDefined();
      const time = r.rows.map((row) => String(row[timeColumn!.name]));
      expect(
        [...time].sort(),
        `${file} ${q.where}: sorted by time (the plugin widens long frames in order)`,
      ).toEqual(time);
    }
    if (q.where.startsWith('annotation')) {
      expect(names, `${file} ${q.where}`).toEqual(expect.arrayContaining(['time', 'text']));
      expect(r.columns.find((c) => c.name === 'time')!.type).toMatch(DATE_TYPE);
    }
    const p = byPanel.get(panelKey) ?? {
      columns: new Set<string>(),
      need: q.columns,
      patterns: q.columnPatterns,
    };
    names.forEach((n) => p.columns.add(n));
    byPanel.set(panelKey, p);
  }
  // Columns named by overrides and reduce options come from one of the panel's queries.
  for (const [where, p] of byPanel) {
    for (const c of p.need) expect([...p.columns], `${file} ${where} reads column ${c}`).toContain(c);
    for (const re of p.patterns)
      expect(
        [...p.columns].some((c) => re.test(c)),
        `${file} ${where} fields ${re}`,
      ).toBe(true);
  }
}
