import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../writer/support.ts';
import { FOCUS_DIR, fileFacts, readText, scaled, sumColumn } from '../ingest/billing-support.ts';

/**
 * `opsight ingest file` as users run it: the real CLI in a child process, against the shared
 * ClickHouse (a database of its own), and on the embedded ClickHouse of a data directory, alone
 * and beside a running `opsight start`.
 */

const bin = join(process.cwd(), 'bin/opsight.js');
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'opsight-ingest-file-'));
  dirs.push(d);
  return d;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CLICKHOUSE_|KAFKA_|OPSIGHT_|OTEL_)/.test(k)) delete env[k];
  return { ...env, OPSIGHT_LOG_LEVEL: 'warn', ...extra };
}

let db: TestDatabase;
let dir: string;
// Recent times: the CLI migrates with the default retention (14 days), which drops older rows.
const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const minute = (ms: number) => iso(ms).slice(0, 16).replace('T', ' ');
let env: Record<string, string>;

function ingest(args: string[], extra: Record<string, string> = env) {
  const r = spawnSync(process.execPath, [bin, 'ingest', 'file', ...args], {
    cwd: dir,
    env: cleanEnv(extra),
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'ingest_file');
  dir = tmp();
  env = { CLICKHOUSE_URL: inject('clickhouseUrl'), CLICKHOUSE_DATABASE: db.database };
}, 60_000);

afterAll(async () => {
  await db?.drop();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('opsight ingest file', () => {
  it('loads a FOCUS CSV with the file’s exact rows and cost, and only once', async () => {
    const file = join(dir, 'focus_sample.csv');
    copyFileSync(join(FOCUS_DIR, 'focus_sample.csv'), file);
    const r = ingest([file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { records } = fileFacts(readText(file));
    expect(r.stdout).toContain(`(billing, auto): ${records.length} accepted, 0 rejected`);
    const [col] = await db.rows<{ type: string }>(
      `SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'billing_focus' AND name = 'BilledCost'`,
    );
    const scale = Number(/Decimal\(\d+, (\d+)\)/.exec(col!.type)![1]);
    // The CLI returns once the rows are stored: no waiting here.
    const [row] = await db.rows<{ n: number; billed: string }>(
      `SELECT count() AS n, toString(sum(BilledCost)) AS billed FROM billing_focus WHERE SourceFile = '${file}'`,
    );
    expect(Number(row!.n)).toBe(records.length);
    expect(scaled(row!.billed, scale)).toBe(
      sumColumn(
        records.map((x) => x.row),
        'BilledCost',
        scale,
      ),
    );

    // Same content again, under another name: nothing loaded, said so, exit 0.
    const copy = join(dir, 'again.csv');
    copyFileSync(file, copy);
    const again = ingest([copy]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already loaded');
    expect(again.stdout).toContain(file);
    expect(await db.scalar(`SELECT count() FROM billing_focus`)).toBe(records.length);

    // --force loads it again, replacing (not adding to) the rows of that file.
    const forced = ingest(['--force', file]);
    expect(forced.code).toBe(0);
    expect(await db.scalar(`SELECT count() FROM billing_focus`)).toBe(records.length);
  });

  it('keeps the good lines of a JSON lines file and dead-letters the bad one (exit 1)', async () => {
    const file = join(dir, 'checkout.jsonl');
    writeFileSync(
      file,
      [
        `{"timestamp":"${iso(t0)}","level":"error","message":"payment failed","service":"checkout","order":"o-1"}`,
        '{"timestamp": 2024-09-01, broken',
        '',
        `{"ts":${t0 / 1000 + 60},"msg":"retry ok","service.name":"checkout","level":"info"}`,
      ].join('\n'),
    );
    const r = ingest([file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('(logs, jsonl): 2 accepted, 1 rejected');
    expect(r.stdout).toContain('1 dead letter(s) in');
    expect(r.stderr).toContain(`${file}:2: invalid JSON`);
    const logs = await db.rows<{ Body: string; SeverityText: string; ServiceName: string }>(
      `SELECT Body, SeverityText, ServiceName FROM otel_logs ORDER BY Timestamp`,
    );
    expect(logs).toEqual([
      { Body: 'payment failed', SeverityText: 'error', ServiceName: 'checkout' },
      { Body: 'retry ok', SeverityText: 'info', ServiceName: 'checkout' },
    ]);
    const dead = await db.rows<{ offset: number; reason: string; payload: string }>(
      `SELECT offset, reason, payload FROM dead_letters WHERE key = '${file}'`,
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ offset: 2, payload: '{"timestamp": 2024-09-01, broken' });
    expect(dead[0]!.reason).toContain(`${file}:2: invalid JSON`);
  });

  it('loads plain text lines with the service from --service', async () => {
    const file = join(dir, 'worker.log');
    writeFileSync(file, `${iso(t0)} WARN queue deep\njust a line\n`);
    const r = ingest(['--service', 'billing-worker', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(logs, text): 2 accepted, 0 rejected');
    const rows = await db.rows<{ Body: string; SeverityText: string }>(
      `SELECT Body, SeverityText FROM otel_logs WHERE ServiceName = 'billing-worker' ORDER BY Body`,
    );
    expect(rows).toEqual([
      { Body: 'just a line', SeverityText: '' },
      { Body: 'queue deep', SeverityText: 'WARN' },
    ]);
  });

  it('loads a Prometheus exposition file into the metric tables, timestamps kept', async () => {
    const file = join(dir, 'node.prom');
    writeFileSync(
      file,
      [
        '# HELP http_requests_total Requests.',
        '# TYPE http_requests_total counter',
        `http_requests_total{code="200"} 1027 ${t0}`,
        `http_requests_total{code="500"} 3 ${t0}`,
        '# TYPE temperature gauge',
        `temperature{room="a"} 21.5 ${t0}`,
        'temperature{room="b" 22',
        '',
      ].join('\n'),
    );
    const r = ingest([file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('(metrics, prometheus): 3 accepted, 1 rejected');
    expect(r.stderr).toContain(`${file}:7:`);
    const sums = await db.rows<{ v: number; t: string }>(
      `SELECT Value AS v, toString(TimeUnix) AS t FROM otel_metrics_sum WHERE MetricName = 'http_requests_total' ORDER BY v`,
    );
    expect(sums.map((s) => s.v)).toEqual([3, 1027]);
    expect(sums[0]!.t.slice(0, 16)).toBe(minute(t0));
    const gauge = await db.rows<{ v: number; job: string }>(
      `SELECT Value AS v, Attributes['job'] AS job FROM otel_metrics_gauge WHERE MetricName = 'temperature'`,
    );
    expect(gauge).toEqual([{ v: 21.5, job: 'node' }]);
    expect(await db.scalar(`SELECT count() FROM dead_letters WHERE key = '${file}' AND offset = 7`)).toBe(1);
  });

  it('exits 2 naming an unreadable file or a bad option', () => {
    const missing = ingest([join(dir, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.csv: cannot read');
    const bad = ingest(['--kind', 'logs', '--format', 'parquet', join(dir, 'checkout.jsonl')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format parquet is not a logs format');
  });

  it('runs alone on a data directory, and beside `opsight start` on its ClickHouse', async () => {
    const home = tmp();
    const data = join(home, 'data');
    const file = join(home, 'app.jsonl');
    writeFileSync(file, '{"message":"alone","service":"cli"}\n');
    const local = { OPSIGHT_DATA_DIR: data };
    const alone = ingest([file], local);
    expect(alone.code).toBe(0);
    expect(alone.stdout).toContain('started for this load and stopped');

    const child = spawn(process.execPath, [bin, 'start'], {
      cwd: home,
      env: cleanEnv({ ...local, OPSIGHT_HTTP_ADDR: '127.0.0.1:0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`opsight start exited ${code}`)));
      });
      const ch = /ClickHouse at (http:\/\/[\d.:]+)/.exec(banner)![1]!;
      const beside = join(home, 'beside.jsonl');
      writeFileSync(beside, '{"message":"beside","service":"cli"}\n{"message":"start","service":"cli"}\n');
      const r = ingest([beside], local);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`ClickHouse ${ch}\n`);
      const q = async (sql: string) =>
        (await (await fetch(`${ch}/?query=${encodeURIComponent(sql)}`)).text()).trim();
      expect(
        await q(`SELECT arraySort(groupArray(Body)) FROM opsight.otel_logs WHERE ServiceName = 'cli'`),
      ).toBe("['alone','beside','start']");
      // The running server is still up after the CLI exited.
      expect(await q('SELECT 1')).toBe('1');
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
