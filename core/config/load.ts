import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, scopes, type Config } from './schema.ts';

/** A configuration problem: the CLI prints `message` and exits with code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
}

type Raw = Record<string, unknown>;

/** Environment variable -> config key, with how to read the string. */
const ENV: { env: string; path: string[]; parse?: (v: string) => unknown }[] = [
  { env: 'CLICKHOUSE_URL', path: ['clickhouse', 'url'] },
  { env: 'CLICKHOUSE_USER', path: ['clickhouse', 'user'] },
  { env: 'CLICKHOUSE_PASSWORD', path: ['clickhouse', 'password'] },
  { env: 'CLICKHOUSE_DATABASE', path: ['clickhouse', 'database'] },
  { env: 'CLICKHOUSE_CLUSTER', path: ['clickhouse', 'cluster'] },
  {
    env: 'KAFKA_BROKERS',
    path: ['kafka', 'brokers'],
    parse: (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
  { env: 'KAFKA_PARTITIONS', path: ['kafka', 'partitions'], parse: numberOrString },
  { env: 'OPSIGHT_DATA_DIR', path: ['dataDir'] },
  { env: 'OPSIGHT_HTTP_ADDR', path: ['http', 'addr'] },
  { env: 'OPSIGHT_LOG_LEVEL', path: ['log', 'level'] },
  { env: 'OPSIGHT_TOKENS', path: ['http', 'tokens'], parse: parseTokens },
  { env: 'OTEL_EXPORTER_OTLP_ENDPOINT', path: ['telemetry', 'otlpEndpoint'] },
  { env: 'OTEL_SERVICE_NAME', path: ['telemetry', 'serviceName'] },
];

function numberOrString(v: string): unknown {
  return /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
}

/** OPSIGHT_TOKENS="name:token:scope+scope,name2:token2:scope" */
function parseTokens(v: string): unknown {
  return v
    .split(',')
    .filter((s) => s.trim())
    .map((entry) => {
      const [name, token, scopeList] = entry.trim().split(':');
      return { name, token, scopes: (scopeList ?? '').split('+').filter(Boolean) };
    });
}

const SECRET_KEYS = new Set([
  'password',
  'token',
  'secretAccessKey',
  'sessionToken',
  'secret',
  'routingKey',
  'webhookUrl',
]);

export interface LoadOptions {
  /** Explicit --config path; must exist. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file that was read, if any. */
  file?: string;
  /** Keys set from the environment, for `config check`. */
  fromEnv: string[];
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  let raw: Raw = {};
  let file: string | undefined;
  if (options.file) {
    if (!existsSync(options.file)) throw new ConfigError(`config file ${options.file}: not found`);
    file = options.file;
  } else if (existsSync(`${cwd}/opsight.yaml`)) {
    file = `${cwd}/opsight.yaml`;
  }
  if (file) raw = readYaml(file);

  const origin = new Map<string, string>();
  const fromEnv: string[] = [];
  for (const { env: name, path, parse } of ENV) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, path, parse ? parse(value) : value);
    origin.set(path.join('.'), name);
    fromEnv.push(name);
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(result.error, raw, origin, file));
  return { config: result.data, file, fromEnv };
}

function readYaml(file: string): Raw {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      throw new ConfigError(
        `config file ${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${err.message.split('\n')[0]}`,
      );
    }
    throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`config file ${file}: expected a mapping of keys at the top level`);
  }
  return doc as Raw;
}

function setPath(obj: Raw, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Raw;
  }
  cur[path[path.length - 1]!] = value;
}

function getPath(obj: unknown, path: PropertyKey[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function describeIssues(error: z.ZodError, raw: Raw, origin: Map<string, string>, file?: string): string {
  const lines = error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
      return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    }
    const key = issue.path.join('.');
    const value = getPath(raw, issue.path);
    const secret = issue.path.some((p) => SECRET_KEYS.has(String(p)));
    const shown = value === undefined ? '(missing)' : secret ? '"***"' : JSON.stringify(value);
    const src = origin.get(key) ?? [...origin.entries()].find(([k]) => key.startsWith(`${k}.`))?.[1];
    const from = src ? ` (from ${src})` : file ? ` (in ${file})` : '';
    let expected = issue.message;
    if (issue.path.at(-1) === 'scopes' || issue.path.at(-2) === 'scopes')
      expected += ` (scopes: ${scopes.join(', ')})`;
    return `${key} = ${shown}${from}: expected ${expected.replace(/^Invalid (input|option): expected /, '')}`;
  });
  return `invalid configuration:\n  ${lines.join('\n  ')}`;
}

/** The effective config with passwords and tokens replaced, for printing. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (SECRET_KEYS.has(key) && typeof value === 'string' && value !== '') return '***';
  if (key === 'url' && typeof value === 'string')
    return value.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
  return value;
}
