/**
 * The query a Grafana panel sends to ClickHouse, rebuilt the way Grafana 11/12 and the official
 * ClickHouse plugin (grafana-clickhouse-datasource v4) build it, in their order:
 *
 * 1. the plugin's frontend `applyConditionalAll` (src/data/CHDatasource.ts): each
 *    `$__conditionalAll(condition, $var)` becomes `condition`, or `1=1` when the variable's
 *    current value is empty or All;
 * 2. Grafana's template service replaces variables (`$var`, `${var}`, `${var:format}`,
 *    `[[var]]` and the built-ins `$__from`, `$__to`, `$__interval`, ...), formatting values with
 *    the plugin's formatter: a list becomes `'a','b'`, a single value is inserted as it is;
 * 3. the backend (sqlds v4 → grafana-plugin-sdk-go `sqlutil.Interpolate`) expands the plugin's
 *    macros (pkg/macros/macros.go) plus the SDK defaults it does not override. The SDK finds a
 *    macro's arguments by scanning for the first `(` after the name and its matching `)` — even
 *    when the macro takes no arguments and that `(` belongs to later SQL — and splits the
 *    arguments on every comma; both quirks are reproduced so a query that would break in Grafana
 *    breaks here too.
 */

export type VariableValue = string | string[];

export interface ExpandContext {
  from: Date;
  to: Date;
  /** The panel's interval ($__interval, $__interval_s, $__timeInterval). */
  intervalMs: number;
  /** Current values; the string `$__all` (or `['$__all']`) for All. */
  variables: Record<string, VariableValue>;
  /** Every option's value, for variables whose All is selected (Grafana expands All to them). */
  options?: Record<string, string[]>;
  /** Custom all values (`allValue`), inserted unformatted as Grafana does. */
  allValues?: Record<string, string>;
}

const ALL = '$__all';

export function expandQuery(rawSql: string, ctx: ExpandContext): string {
  return interpolateBackend(replaceVariables(applyConditionalAll(rawSql, ctx.variables), ctx), ctx);
}

/** CHDatasource.applyConditionalAll: last occurrence first, arguments split at depth 1. */
export function applyConditionalAll(rawQuery: string, variables: Record<string, VariableValue>): string {
  if (!rawQuery) return rawQuery;
  const macro = '$__conditionalAll(';
  let at = rawQuery.lastIndexOf(macro);
  while (at !== -1) {
    const params = macroArgs(rawQuery, at + macro.length - 1);
    if (params.length !== 2) return rawQuery;
    const [condition, varParam] = params as [string, string];
    const name = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(varParam.trim());
    let phrase = condition;
    if (name) {
      const current = variables[name[0]];
      // Grafana's `current.value.toString()`: ['$__all'] and '' both read as "no filter".
      const text = current === undefined ? undefined : String(current);
      if (text === '' || text === ALL) phrase = '1=1';
    }
    rawQuery = rawQuery.replace(`${macro}${condition},${varParam})`, phrase);
    at = rawQuery.lastIndexOf(macro);
  }
  return rawQuery;
}

function macroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let depth = 0;
  let lastEnd = 1;
  const s = query.substring(argsIndex);
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    if (m[0] === '(') depth++;
    else if (m[0] === ')') depth--;
    if (m[0] === ',' && depth === 1) {
      args.push(s.substring(lastEnd, re.lastIndex - 1));
      lastEnd = re.lastIndex;
    }
    if (depth === 0) {
      args.push(s.substring(lastEnd, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

// Grafana's variableRegex (public/app/features/variables/utils.ts).
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

function builtIns(ctx: ExpandContext): Record<string, string> {
  const from = ctx.from.getTime();
  const to = ctx.to.getTime();
  return {
    __from: String(from),
    __to: String(to),
    __interval: intervalText(ctx.intervalMs),
    __interval_ms: String(ctx.intervalMs),
    __range: intervalText(to - from),
    __range_ms: String(to - from),
    __range_s: String(Math.round((to - from) / 1000)),
  };
}

/** Grafana's kbn.secondsToHms-style interval text (`30s`, `1m`, `2h`). */
function intervalText(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** TemplateSrv.replace with the plugin's format function (CHDatasource.format). */
export function replaceVariables(sql: string, ctx: ExpandContext): string {
  const builtin = builtIns(ctx);
  return sql.replace(
    VARIABLE,
    (match, v1?: string, v2?: string, f2?: string, v3?: string, _path?: string, f3?: string) => {
      const name = (v1 ?? v2 ?? v3)!;
      const format = f2 ?? f3;
      if (name in builtin) return builtin[name]!;
      if (!(name in ctx.variables)) return match; // unknown: Grafana leaves it (macros stay for the backend)
      let value = ctx.variables[name]!;
      if (String(value) === ALL) {
        const custom = ctx.allValues?.[name];
        // A custom all value is inserted raw unless the format is text/percentencode.
        if (custom !== undefined) return custom;
        value = ctx.options?.[name] ?? [];
      }
      return formatValue(value, format);
    },
  );
}

function formatValue(value: VariableValue, format: string | undefined): string {
  const list = Array.isArray(value) ? value : [value];
  switch (format) {
    case undefined:
      return Array.isArray(value) ? `'${value.join("','")}'` : value;
    case 'raw':
      return list.join(',');
    case 'csv':
      return list.join(',');
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'sqlstring':
      return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'pipe':
      return list.join('|');
    default:
      throw new Error(`variable format ${format} is not supported by this expander`);
  }
}

type Macro = (args: string[], ctx: ExpandContext) => string;

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
const dateTime = (d: Date) => `toDateTime(${seconds(d)})`;
const dateTime64 = (d: Date) => `fromUnixTimestamp64Milli(${d.getTime()})`;
const date = (d: Date) => `toDate('${d.toISOString().slice(0, 10)}')`;
const rfc3339 = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

function arity(name: string, args: string[], n: number): void {
  // sqlutil.ErrorBadArgumentCount: the query fails in Grafana with this message.
  if (args.length !== n)
    throw new Error(
      `${name}: unexpected number of arguments: expected ${n} argument, received ${args.length}`,
    );
}

/** pkg/macros/macros.go `Macros`, plus sqlutil.DefaultMacros for the names the plugin leaves out. */
const MACROS: Record<string, Macro> = {
  fromTime: (_a, c) => dateTime(c.from),
  toTime: (_a, c) => dateTime(c.to),
  fromTime_ms: (_a, c) => dateTime64(c.from),
  toTime_ms: (_a, c) => dateTime64(c.to),
  timeFilter: (a, c) => (
    arity('timeFilter', a, 1),
    `${a[0]} >= ${dateTime(c.from)} AND ${a[0]} <= ${dateTime(c.to)}`
  ),
  timeFilter_ms: (a, c) => (
    arity('timeFilter_ms', a, 1),
    `${a[0]} >= ${dateTime64(c.from)} AND ${a[0]} <= ${dateTime64(c.to)}`
  ),
  dateFilter: (a, c) => (
    arity('dateFilter', a, 1),
    `${a[0]} >= ${date(c.from)} AND ${a[0]} <= ${date(c.to)}`
  ),
  dateTimeFilter: (a, c) => dateTimeFilter(a, c),
  dt: (a, c) => dateTimeFilter(a, c),
  timeInterval: (a, c) => (
    arity('timeInterval', a, 1),
    `toStartOfInterval(toDateTime(${a[0]}), INTERVAL ${Math.floor(Math.max(c.intervalMs / 1000, 1))} second)`
  ),
  timeInterval_ms: (a, c) => (
    arity('timeInterval_ms', a, 1),
    `toStartOfInterval(toDateTime64(${a[0]}, 3), INTERVAL ${Math.floor(Math.max(c.intervalMs, 1))} millisecond)`
  ),
  interval_s: (_a, c) => String(Math.floor(Math.max(c.intervalMs / 1000, 1))),
  // sqlutil defaults (the plugin overrides timeFilter; these keep their generic SQL).
  timeFrom: (a, c) => (arity('timeFrom', a, 1), `${a[0]} >= '${rfc3339(c.from)}'`),
  timeTo: (a, c) => (arity('timeTo', a, 1), `${a[0]} <= '${rfc3339(c.to)}'`),
  timeGroup: (a) => {
    arity('timeGroup', a, 2);
    throw new Error('$__timeGroup expands to SQL Server datepart(), which ClickHouse does not have');
  },
  table: () => '',
  column: () => '',
};

function dateTimeFilter(a: string[], c: ExpandContext): string {
  arity('dateTimeFilter', a, 2);
  return `(${a[0]} >= ${date(c.from)} AND ${a[0]} <= ${date(c.to)}) AND (${a[1]} >= ${dateTime(c.from)} AND ${a[1]} <= ${dateTime(c.to)})`;
}

/** sqlutil.getMacroMatches: the macro text (name plus what the SDK takes as its arguments). */
function macroMatches(input: string, name: string): { text: string; args: string | undefined }[] {
  const out: { text: string; args: string | undefined }[] = [];
  // Go's \b is ASCII-only, as is JavaScript's without the u flag.
  const re = new RegExp(`\\$__${name}\\b`, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(input)) !== null) {
    const start = m.index;
    const rest = input.slice(start);
    let depth = 0;
    let argStart = 0;
    let end = 0;
    for (let i = 0; i < rest.length; i++) {
      if (depth === 0 && end > 0) break;
      const ch = rest[i];
      if (ch === '(') {
        depth++;
        if (argStart === 0) argStart = i + 1;
      } else if (ch === ')') {
        if (depth === 0) {
          end = 0;
          break;
        }
        depth--;
        end = i + 1;
      }
    }
    if (end === 0) end = m[0].length;
    out.push({ text: rest.slice(0, end), args: argStart > 0 ? rest.slice(argStart, end - 1) : undefined });
  }
  return out;
}

/** sqlutil.Interpolate with the plugin's macros. */
export function interpolateBackend(sql: string, ctx: ExpandContext): string {
  for (const [name, macro] of Object.entries(MACROS)) {
    for (const match of macroMatches(sql, name)) {
      // Go: strings.Split("", ",") is [""], so a macro without parentheses gets one empty argument.
      const args = (match.args ?? '').split(',').map((s) => s.trim());
      sql = sql.split(match.text).join(macro(args, ctx));
    }
  }
  return sql;
}
