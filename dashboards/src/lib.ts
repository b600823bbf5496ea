import type { Dashboard, DataSourceRef, Panel, RowPanel, VariableModel } from '@grafana/schema';

/**
 * Small builders for Grafana dashboard JSON (schema of Grafana 11/12, typed by @grafana/schema)
 * on the official ClickHouse plugin. Panels are laid out left to right in rows of 24 columns,
 * so positions never overlap and never need hand-editing.
 */

export const PLUGIN_ID = 'grafana-clickhouse-datasource';
/** Every panel and query goes through the datasource variable, so one import works anywhere. */
export const DS: DataSourceRef = { type: PLUGIN_ID, uid: '${datasource}' };
/** Grafana 11.0's schema version; later Grafana versions migrate it forward on load. */
export const SCHEMA_VERSION = 39;

/** The plugin's query (v4 model). format: 0 time series (long frames widened), 1 table. */
// A type alias (not an interface) so it fits Panel.targets' Record<string, unknown>.
export type CHTarget = {
  refId: string;
  datasource: DataSourceRef;
  editorType: 'sql';
  rawSql: string;
  format: 0 | 1;
  queryType: 'timeSeries' | 'table';
  pluginVersion: string;
};

export const PLUGIN_VERSION = '4.11.0';

export function sql(rawSql: string, format: 'time_series' | 'table', refId = 'A'): CHTarget {
  return {
    refId,
    datasource: DS,
    editorType: 'sql',
    rawSql: rawSql.trim(),
    format: format === 'time_series' ? 0 : 1,
    queryType: format === 'time_series' ? 'timeSeries' : 'table',
    pluginVersion: PLUGIN_VERSION,
  };
}

export type PanelSpec = Omit<Panel, 'id' | 'gridPos' | 'datasource' | 'targets'> & {
  type: string;
  title: string;
  w: number;
  h: number;
  targets: CHTarget[];
};

export type Item = PanelSpec | { row: string };

/** Assigns ids and grid positions: panels flow left to right and wrap at 24 columns. */
export function layout(items: Item[]): (Panel | RowPanel)[] {
  const out: (Panel | RowPanel)[] = [];
  let id = 1;
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const item of items) {
    if ('row' in item) {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
      out.push({
        type: 'row',
        id: id++,
        title: item.row,
        collapsed: false,
        panels: [],
        gridPos: { x: 0, y, w: 24, h: 1 },
      });
      y += 1;
      continue;
    }
    const { w, h, ...rest } = item;
    if (x + w > 24) {
      y += rowHeight;
      x = 0;
      rowHeight = 0;
    }
    out.push({ ...rest, id: id++, datasource: DS, gridPos: { x, y, w, h } } as Panel);
    x += w;
    rowHeight = Math.max(rowHeight, h);
  }
  return out;
}

export function datasourceVariable(): VariableModel {
  return {
    name: 'datasource',
    label: 'ClickHouse',
    type: 'datasource',
    query: PLUGIN_ID,
    current: { text: 'opsight ClickHouse', value: 'opsight-clickhouse' },
    hide: 0,
    refresh: 1,
    regex: '',
    options: [],
  };
}

export function queryVariable(
  name: string,
  label: string,
  rawSql: string,
  o: { multi?: boolean; includeAll?: boolean; refresh?: 1 | 2 } = {},
): VariableModel {
  const all = o.includeAll ?? false;
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    // The plugin's variable query (CHVariableQuery, "Custom SQL"); the resolver runs rawSql through
    // metricFindQuery, where editorType 'sql' is what older 4.x releases look for.
    query: { refId: `${name}-var`, queryType: 'sql', editorType: 'sql', rawSql: rawSql.trim() },
    definition: rawSql.trim(),
    multi: o.multi ?? false,
    includeAll: all,
    current: all ? { text: ['All'], value: ['$__all'] } : { text: '', value: '' },
    refresh: o.refresh ?? 2,
    sort: 1,
    hide: 0,
    regex: '',
    options: [],
  } as VariableModel;
}

export function customVariable(
  name: string,
  label: string,
  values: string[],
  current: string,
): VariableModel {
  return {
    name,
    label,
    type: 'custom',
    query: values.join(','),
    current: { text: current, value: current },
    options: values.map((v) => ({ text: v, value: v, selected: v === current })),
    multi: false,
    includeAll: false,
    hide: 0,
  };
}

export interface AnnotationSpec {
  name: string;
  iconColor: string;
  rawSql: string;
}

export function dashboard(d: {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableModel[];
  annotations?: AnnotationSpec[];
  items: Item[];
  time?: { from: string; to: string };
  links?: Dashboard['links'];
}): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['opsight', ...d.tags],
    editable: true,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    refresh: '1m',
    time: d.time ?? { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: d.links ?? [
      {
        title: 'opsight',
        type: 'dashboards',
        tags: ['opsight'],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...(d.annotations ?? []).map((a) => ({
          datasource: DS,
          enable: true,
          iconColor: a.iconColor,
          name: a.name,
          target: {
            refId: 'Anno',
            editorType: 'sql',
            rawSql: a.rawSql.trim(),
            format: 1,
            queryType: 'table',
            pluginVersion: PLUGIN_VERSION,
          } as unknown as NonNullable<NonNullable<Dashboard['annotations']>['list']>[number]['target'],
        })),
      ],
    },
    templating: { list: d.variables },
    panels: layout(d.items),
  };
}

// Field config helpers -------------------------------------------------------------------------

export type Override = NonNullable<Panel['fieldConfig']>['overrides'][number];

export function byName(name: string, properties: Record<string, unknown>): Override {
  return {
    matcher: { id: 'byName', options: name },
    properties: Object.entries(properties).map(([id, value]) => ({ id, value })),
  };
}

/** Series named after a label value (long frames widened by the plugin) are matched by pattern. */
export function byRegexp(pattern: string, properties: Record<string, unknown>): Override {
  return {
    matcher: { id: 'byRegexp', options: pattern },
    properties: Object.entries(properties).map(([id, value]) => ({ id, value })),
  };
}

export function fieldConfig(
  defaults: Record<string, unknown>,
  overrides: Override[] = [],
): Panel['fieldConfig'] {
  return { defaults, overrides };
}

export const thresholds = (steps: [number | null, string][]) => ({
  mode: 'absolute',
  steps: steps.map(([value, color]) => ({ value, color })),
});

/**
 * A stat panel showing one column of a table query. With `steps` the background is coloured by
 * those thresholds (counts that should be zero); otherwise `config` holds the field defaults.
 */
export function stat(o: {
  title: string;
  w: number;
  h: number;
  target: CHTarget;
  field: string;
  steps?: [number | null, string][];
  config?: Record<string, unknown>;
}): PanelSpec {
  const reduceOptions = { calcs: ['lastNotNull'], fields: `/^${o.field}$/`, values: false };
  return {
    type: 'stat',
    title: o.title,
    w: o.w,
    h: o.h,
    targets: [o.target],
    options: o.steps ? { reduceOptions, colorMode: 'background' } : { reduceOptions },
    fieldConfig: fieldConfig(o.steps ? { thresholds: thresholds(o.steps) } : (o.config ?? {})),
  };
}
