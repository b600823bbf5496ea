import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  defaultDashboard,
  type Dashboard,
  type Panel,
  type RowPanel,
  type VariableModel,
} from '@grafana/schema';
import { panelsOf } from './grafana-dashboards.ts';

/**
 * Structural checks of a dashboard against Grafana's dashboard model (@grafana/schema): what
 * Grafana needs to load it and what makes it render as meant. Each returns a list of problems,
 * so a failing test names every one at once.
 */

export const PLUGIN_ID = 'grafana-clickhouse-datasource';
/** Grafana 11.0's dashboard schema version: the oldest the dashboards target. */
export const MIN_SCHEMA_VERSION = 39;

const VARIABLE_TYPES = new Set([
  'query',
  'adhoc',
  'groupby',
  'constant',
  'datasource',
  'interval',
  'textbox',
  'custom',
  'system',
  'snapshot',
  'switch',
]);

/** Core panel plugins: those @grafana/schema ships a panel config for. */
export function corePanelTypes(): Set<string> {
  const require = createRequire(import.meta.url);
  const esm = dirname(require.resolve('@grafana/schema').replace(/cjs\/index\.cjs$/, 'esm/index.mjs'));
  return new Set(readdirSync(join(esm, 'raw', 'composable')));
}

/** Grafana's built-in variables and the plugin's macros, which need no definition. */
const BUILT_IN = new Set([
  '__from',
  '__to',
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__rate_interval',
  '__dashboard',
  '__user',
  '__org',
  '__timezone',
  '__value',
  '__url_time_range',
  '__all_variables',
  '__field',
  '__series',
  '__data',
  '__cell',
]);
export const PLUGIN_MACROS = new Set([
  '__conditionalAll',
  '__fromTime',
  '__toTime',
  '__fromTime_ms',
  '__toTime_ms',
  '__timeFilter',
  '__timeFilter_ms',
  '__dateFilter',
  '__dateTimeFilter',
  '__dt',
  '__timeInterval',
  '__timeInterval_ms',
  '__interval_s',
]);

const VAR_REF = /\$(\w+)|\[\[(\w+?)(?::\w+)?\]\]|\$\{(\w+)(?:\.[^:^}]+)?(?::[^}]+)?\}/g;

/** Variable names a text refers to (`$x`, `${x}`, `${x:fmt}`, `[[x]]`), built-ins excluded. */
export function referencedVariables(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(VAR_REF)) {
    const name = (m[1] ?? m[2] ?? m[3])!;
    if (!BUILT_IN.has(name) && !PLUGIN_MACROS.has(name)) out.add(name);
  }
  return [...out];
}

export function macrosUsed(sql: string): string[] {
  return [...new Set([...sql.matchAll(/\$(__\w+)/g)].map((m) => m[1]!))];
}

export function checkDashboard(d: Dashboard): string[] {
  const problems: string[] = [];
  const p = (s: string) => problems.push(s);
  if (typeof d.uid !== 'string' || !/^[\w-]{1,40}$/.test(d.uid))
    p(`uid ${String(d.uid)} is not a valid dashboard uid`);
  if (!d.title) p('no title');
  if (typeof d.schemaVersion !== 'number') p('no schemaVersion');
  else if (d.schemaVersion < MIN_SCHEMA_VERSION || d.schemaVersion > defaultDashboard.schemaVersion!)
    p(`schemaVersion ${d.schemaVersion} is outside ${MIN_SCHEMA_VERSION}..${defaultDashboard.schemaVersion}`);
  if (!d.time?.from || !d.time.to) p('no default time range');
  problems.push(...checkVariables(d.templating?.list ?? []));
  problems.push(...checkPanels(d));
  problems.push(...checkDatasources(d));
  return problems;
}

function checkVariables(vars: VariableModel[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const v of vars) {
    if (!VARIABLE_TYPES.has(v.type)) problems.push(`variable ${v.name}: unknown type ${v.type}`);
    if (seen.has(v.name)) problems.push(`variable ${v.name} is defined twice`);
    if (!/^\w+$/.test(v.name)) problems.push(`variable name ${v.name} is not a word`);
    const query = typeof v.query === 'string' ? v.query : JSON.stringify(v.query ?? '');
    // Grafana resolves variables in order: a chained variable may only use earlier ones.
    for (const ref of referencedVariables(query)) {
      if (!seen.has(ref)) problems.push(`variable ${v.name} uses $${ref}, which is not defined before it`);
    }
    if (v.type === 'datasource' && v.query !== PLUGIN_ID)
      problems.push(`datasource variable ${v.name} is not of ${PLUGIN_ID}`);
    if (v.includeAll && !v.multi && v.type === 'query')
      problems.push(`variable ${v.name}: All without multi`);
    seen.add(v.name);
  }
  return problems;
}

function checkPanels(d: Dashboard): string[] {
  const problems: string[] = [];
  const types = corePanelTypes();
  const ids = new Set<number>();
  const boxes: { id: number; x: number; y: number; w: number; h: number }[] = [];
  for (const panel of panelsOf(d)) {
    const where = `panel ${panel.id} "${panel.title}"`;
    if (typeof panel.id !== 'number') problems.push(`${where}: no numeric id`);
    else if (ids.has(panel.id)) problems.push(`${where}: duplicate id`);
    else ids.add(panel.id);
    if (panel.type !== 'row' && !types.has(panel.type))
      problems.push(`${where}: ${panel.type} is not a core panel type`);
    const g = panel.gridPos;
    if (!g) {
      problems.push(`${where}: no gridPos`);
      continue;
    }
    if (![g.x, g.y, g.w, g.h].every((n) => Number.isInteger(n)))
      problems.push(`${where}: gridPos is not integral`);
    if (g.w <= 0 || g.h <= 0) problems.push(`${where}: empty gridPos ${JSON.stringify(g)}`);
    if ((g.x ?? 0) < 0 || (g.y ?? 0) < 0 || (g.x ?? 0) + g.w > 24)
      problems.push(`${where}: gridPos ${JSON.stringify(g)} leaves the 24 columns`);
    for (const b of boxes) {
      const x = g.x ?? 0;
      const y = g.y ?? 0;
      if (x < b.x + b.w && b.x < x + g.w && y < b.y + b.h && b.y < y + g.h)
        problems.push(`${where} overlaps panel ${b.id}`);
    }
    boxes.push({ id: panel.id ?? -1, x: g.x ?? 0, y: g.y ?? 0, w: g.w, h: g.h });
    if (panel.type === 'row') continue;
    const targets = ((panel as Panel).targets ?? []) as {
      refId?: string;
      rawSql?: string;
      format?: number;
      editorType?: string;
      queryType?: string;
    }[];
    if (!targets.length) problems.push(`${where}: no query`);
    const refIds = new Set<string>();
    for (const t of targets) {
      if (!t.refId || refIds.has(t.refId)) problems.push(`${where}: missing or duplicate refId ${t.refId}`);
      refIds.add(t.refId ?? '');
      if (t.editorType !== 'sql' || !t.rawSql?.trim()) problems.push(`${where} ${t.refId}: not a SQL query`);
      if (t.format !== 0 && t.format !== 1)
        problems.push(`${where} ${t.refId}: format ${t.format} is neither time series (0) nor table (1)`);
      if ((t.format === 0) !== (t.queryType === 'timeSeries'))
        problems.push(`${where} ${t.refId}: format and queryType disagree`);
      if (panel.type === 'timeseries' && t.format !== 0)
        problems.push(`${where} ${t.refId}: a time series panel with a table query`);
      for (const m of macrosUsed(t.rawSql ?? '')) {
        if (!PLUGIN_MACROS.has(m) && !BUILT_IN.has(m))
          problems.push(`${where} ${t.refId}: $${m} is not a macro of the plugin`);
      }
    }
  }
  // Every variable a panel, query or annotation refers to must exist.
  const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
  const texts: [string, string][] = [];
  for (const panel of panelsOf(d)) {
    texts.push([`panel ${panel.id}`, JSON.stringify({ ...panel, panels: undefined } as Partial<RowPanel>)]);
  }
  for (const a of d.annotations?.list ?? []) texts.push([`annotation ${a.name}`, JSON.stringify(a)]);
  for (const [where, text] of texts) {
    for (const ref of referencedVariables(text)) {
      if (!defined.has(ref)) problems.push(`${where} uses $${ref}, which is not defined`);
    }
  }
  return problems;
}

/** Every datasource reference resolves to the datasource variable of the ClickHouse plugin. */
function checkDatasources(d: Dashboard): string[] {
  const problems: string[] = [];
  const dsVar = (d.templating?.list ?? []).find((v) => v.type === 'datasource' && v.query === PLUGIN_ID);
  if (!dsVar) return ['no datasource variable of the ClickHouse plugin'];
  const ok = (ref: unknown) => {
    const r = ref as { type?: string; uid?: string } | undefined;
    return r?.type === PLUGIN_ID && (r.uid === `\${${dsVar.name}}` || r.uid === `$${dsVar.name}`);
  };
  for (const panel of panelsOf(d)) {
    if (panel.type === 'row') continue;
    if (!ok(panel.datasource))
      problems.push(`panel ${panel.id}: datasource ${JSON.stringify(panel.datasource)}`);
    for (const t of ((panel as Panel).targets ?? []) as { refId?: string; datasource?: unknown }[]) {
      if (!ok(t.datasource))
        problems.push(`panel ${panel.id} ${t.refId}: datasource ${JSON.stringify(t.datasource)}`);
    }
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type === 'query' && !ok(v.datasource))
      problems.push(`variable ${v.name}: datasource ${JSON.stringify(v.datasource)}`);
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.builtIn) continue;
    if (!ok(a.datasource)) problems.push(`annotation ${a.name}: datasource ${JSON.stringify(a.datasource)}`);
    if (!a.name || typeof a.enable !== 'boolean' || !a.iconColor)
      problems.push(`annotation ${a.name}: name, enable and iconColor are required`);
  }
  return problems;
}
