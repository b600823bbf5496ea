import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/schema';
import { expandQuery, type ExpandContext, type VariableValue } from './grafana-macros.ts';

/** Loads dashboards/*.json as the dashboard model of @grafana/schema, and lists their queries. */

export const DASHBOARD_DIR = new URL('../../dashboards/', import.meta.url).pathname;

export interface LoadedDashboard {
  file: string;
  json: Dashboard;
}

export function loadDashboards(dir = DASHBOARD_DIR): LoadedDashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard }));
}

export function panelsOf(d: Dashboard): (Panel | RowPanel)[] {
  return (d.panels ?? []).flatMap((p) => (p.type === 'row' ? [p, ...((p as RowPanel).panels ?? [])] : [p]));
}

export interface QuerySite {
  /** `panel 3 "Error ratio" A`, `variable service`, `annotation Alerts`. */
  where: string;
  rawSql: string;
  /** 0 time series, 1 table. */
  format: number;
  /** Columns the panel reads by name (overrides, reduce field patterns, annotation fields). */
  columns: string[];
  /** A regex the result's column names must match somewhere (stat `fields`). */
  columnPatterns: RegExp[];
  panelType?: string;
}

interface Target {
  refId?: string;
  rawSql?: string;
  format?: number;
}

/** Every query of a dashboard: each panel target, each query variable, each annotation. */
export function queriesOf(d: Dashboard): QuerySite[] {
  const out: QuerySite[] = [];
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = v.query as { rawSql?: string } | string | undefined;
    const rawSql = typeof q === 'string' ? q : (q?.rawSql ?? '');
    out.push({ where: `variable ${v.name}`, rawSql, format: 1, columns: [], columnPatterns: [] });
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.builtIn) continue;
    const t = a.target as unknown as Target | undefined;
    out.push({
      where: `annotation ${a.name}`,
      rawSql: t?.rawSql ?? '',
      format: 1,
      columns: ['time', 'text'],
      columnPatterns: [],
    });
  }
  for (const p of panelsOf(d)) {
    if (p.type === 'row') continue;
    const panel = p as Panel;
    const overrides = panel.fieldConfig?.overrides ?? [];
    const columns = [
      ...overrides.filter((o) => o.matcher.id === 'byName').map((o) => String(o.matcher.options)),
      // A band fills down to another field, which must be there too.
      ...overrides.flatMap((o) =>
        o.properties.filter((p) => p.id === 'custom.fillBelowTo').map((p) => String(p.value)),
      ),
      // The table's initial sort column.
      ...((panel.options as { sortBy?: { displayName: string }[] } | undefined)?.sortBy ?? []).map(
        (x) => x.displayName,
      ),
    ];
    const patterns: RegExp[] = [];
    const fields = (panel.options as { reduceOptions?: { fields?: string } } | undefined)?.reduceOptions
      ?.fields;
    if (fields) patterns.push(regexOf(fields));
    for (const t of (panel.targets ?? []) as Target[]) {
      out.push({
        where: `panel ${panel.id} "${panel.title}" ${t.refId ?? ''}`.trim(),
        rawSql: t.rawSql ?? '',
        format: t.format ?? 1,
        columns,
        columnPatterns: patterns,
        panelType: panel.type,
      });
    }
  }
  return out;
}

/** Grafana's field-name matcher regex notation: `/pattern/flags`. */
function regexOf(s: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/.exec(s);
  return m ? new RegExp(m[1]!, m[2]) : new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** Query variables in dashboard order with the values a user could pick. */
export function variablesOf(d: Dashboard): VariableModel[] {
  return d.templating?.list ?? [];
}

export interface RunResult {
  sql: string;
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

/** Expands a query as Grafana and the plugin would, and runs it on ClickHouse. */
export async function runQuery(
  client: ClickHouseClient,
  rawSql: string,
  ctx: ExpandContext,
): Promise<RunResult> {
  const sql = expandQuery(rawSql, ctx);
  const rs = await client.query({ query: sql, format: 'JSONCompact' });
  const body = (await rs.json()) as unknown as { meta: { name: string; type: string }[]; data: unknown[][] };
  const rows = body.data.map((r) => Object.fromEntries(body.meta.map((m, i) => [m.name, r[i]])));
  return { sql, columns: body.meta, rows };
}

export type { ExpandContext, VariableValue };

/** The dashboard's default range (`now-6h` .. `now`), ending at `now`. */
export function defaultRange(d: Dashboard, now: number): { from: Date; to: Date } {
  const m = /^now-(\d+)([mhdw])$/.exec(d.time?.from ?? '');
  if (!m || d.time?.to !== 'now') throw new Error(`unsupported default time range ${JSON.stringify(d.time)}`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return { from: new Date(now - Number(m[1]) * unit), to: new Date(now) };
}

const NICE_INTERVALS = [
  1, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 10_800, 21_600, 43_200, 86_400,
].map((s) => s * 1000);

/** Grafana's panel interval: the range over about 1,000 points, rounded up to a round interval. */
export function panelInterval(range: { from: Date; to: Date }, maxDataPoints = 1000): number {
  const raw = (range.to.getTime() - range.from.getTime()) / maxDataPoints;
  return NICE_INTERVALS.find((i) => i >= raw) ?? 86_400_000;
}

/**
 * Resolves the dashboard's variables in order, as Grafana does: each query variable runs with
 * the values chosen for the ones before it; `choose` picks from its options.
 */
export async function resolveVariables(
  client: ClickHouseClient,
  d: Dashboard,
  range: { from: Date; to: Date },
  choose: (v: VariableModel, options: string[]) => VariableValue,
): Promise<{ variables: Record<string, VariableValue>; options: Record<string, string[]> }> {
  const variables: Record<string, VariableValue> = {};
  const options: Record<string, string[]> = {};
  const intervalMs = panelInterval(range);
  for (const v of variablesOf(d)) {
    if (v.type === 'query') {
      const q = v.query as { rawSql?: string };
      const r = await runQuery(client, q.rawSql ?? '', { ...range, intervalMs, variables, options });
      // metricFindQuery: one column is text and value; with two, the first is the value.
      const first = r.columns[0]!.name;
      options[v.name] = r.rows.map((row) => String(row[first]));
    } else if (v.type === 'custom') {
      options[v.name] = (v.options ?? []).map((o) => String(o.value));
    } else {
      continue;
    }
    variables[v.name] = choose(v, options[v.name]!);
  }
  return { variables, options };
}
