import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskSecrets } from '../core/config/load.ts';

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsight-config-'));
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has working defaults with no file and no environment', () => {
    const { config } = loadConfig({ env: {}, cwd: tmpdir() });
    expect(config.http.addr).toBe('127.0.0.1:4318');
    expect(config.clickhouse.database).toBe('opsight');
    expect(config.clickhouse.url).toBeUndefined();
    expect(config.kafka.brokers).toEqual([]);
    expect(config.dataDir).toBe('./data');
  });

  it('reads YAML and lets the environment override it', () => {
    const file = tmpFile(
      'opsight.yaml',
      'clickhouse:\n  database: fromfile\n  user: alice\nkafka:\n  partitions: 3\n',
    );
    const { config, fromEnv } = loadConfig({
      file,
      env: { CLICKHOUSE_DATABASE: 'fromenv', KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093' },
    });
    expect(config.clickhouse.database).toBe('fromenv');
    expect(config.clickhouse.user).toBe('alice');
    expect(config.kafka.partitions).toBe(3);
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
    expect(fromEnv).toContain('KAFKA_BROKERS');
  });

  it('finds ./opsight.yaml in the working directory', () => {
    const file = tmpFile('opsight.yaml', 'dataDir: /var/lib/opsight\n');
    const { config } = loadConfig({ env: {}, cwd: join(file, '..') });
    expect(config.dataDir).toBe('/var/lib/opsight');
  });

  it('names the key, the value, its origin and what was expected', () => {
    const err = errorOf(() => loadConfig({ env: { CLICKHOUSE_URL: 'not a url' }, cwd: tmpdir() }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('clickhouse.url = "not a url" (from CLICKHOUSE_URL)');
    expect(err.message).toContain('http(s) URL');

    const file = tmpFile('opsight.yaml', 'http:\n  addr: nowhere\nwriter:\n  maxRows: -5\n');
    const msg = errorOf(() => loadConfig({ file, env: {} })).message;
    expect(msg).toContain(`http.addr = "nowhere" (in ${file}): expected host:port`);
    expect(msg).toContain('writer.maxRows = -5');
  });

  it('rejects unknown keys and malformed YAML with the file and line', () => {
    const unknown = tmpFile('opsight.yaml', 'clikhouse:\n  url: http://x:8123\n');
    expect(errorOf(() => loadConfig({ file: unknown, env: {} })).message).toContain('unknown key clikhouse');
    const broken = tmpFile('opsight.yaml', 'http:\n  addr: [unclosed\n');
    expect(errorOf(() => loadConfig({ file: broken, env: {} })).message).toMatch(/opsight\.yaml:\d+:\d+/);
    expect(errorOf(() => loadConfig({ file: '/nonexistent/opsight.yaml', env: {} })).message).toContain(
      'not found',
    );
  });

  it('parses tokens with scopes and masks every secret when printed', () => {
    const { config } = loadConfig({
      env: {
        OPSIGHT_TOKENS: 'collector:0123456789abcdef0123:ingest,grafana:fedcba9876543210fedc:read+admin',
        CLICKHOUSE_PASSWORD: 's3cret',
        CLICKHOUSE_URL: 'http://bob:pw@ch.example:8123',
      },
      cwd: tmpdir(),
    });
    expect(config.http.tokens[1]).toEqual({
      name: 'grafana',
      token: 'fedcba9876543210fedc',
      scopes: ['read', 'admin'],
    });
    const printed = JSON.stringify(maskSecrets(config));
    expect(printed).not.toContain('s3cret');
    expect(printed).not.toContain('0123456789abcdef0123');
    expect(printed).not.toContain(':pw@');
    const bad = errorOf(() =>
      loadConfig({ env: { OPSIGHT_TOKENS: 'x:0123456789abcdef0123:root' }, cwd: tmpdir() }),
    );
    expect(bad.message).toContain('http.tokens.0.scopes.0 = "root"');
    expect(bad.message).not.toContain('0123456789abcdef0123');
  });
});
