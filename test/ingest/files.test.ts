import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configSchema } from '../../core/config/schema.ts';
import { FileSource } from '../../ingest/logs/files.ts';
import { waitFor as waitLong } from '../writer/support.ts';
import { startLogPipeline, type LogPipeline } from './logs-support.ts';

/** Real files, real renames and truncations, the real writer into ClickHouse. */

/** Generous, but well below vitest's per-test timeout so a failure names what it waited for. */
const waitFor = (cond: () => boolean | Promise<boolean>, what: string) => waitLong(cond, what, 60_000);

const dir = mkdtempSync(join(tmpdir(), 'opsight-files-'));
const dataDir = join(dir, 'data');
let p: LogPipeline;

beforeAll(async () => {
  p = await startLogPipeline(inject('clickhouseUrl'), 'files', () => [], {}, { dataDir });
});
afterAll(async () => {
  await p?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function source(entry: Record<string, unknown>): FileSource {
  const config = configSchema.parse({ dataDir, ingest: { files: [{ pollIntervalMs: 50, ...entry }] } });
  return new FileSource(config.ingest.files[0]!, config.dataDir);
}

const lines = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix} ${String(from + i).padStart(5, '0')}\n`).join('');

const count = (service: string) =>
  p.db.scalar(`SELECT count() FROM otel_logs WHERE ServiceName = '${service}'`);
const distinct = (service: string) =>
  p.db.scalar(`SELECT uniqExact(Body) FROM otel_logs WHERE ServiceName = '${service}'`);

describe('file tailing', () => {
  it('follows rotation by rename and by truncation without losing or repeating a line', async () => {
    const d = join(dir, 'rot');
    rmSync(d, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(d);
    const log = join(d, 'app.log');
    writeFileSync(log, lines('a', 0, 1000));
    await p.startSource(
      source({ name: 'rot', include: [`${d}/*.log`], startAt: 'beginning', serviceName: 'rot' }),
    );
    await waitFor(async () => (await count('rot')) === 1000, 'first 1000 lines');

    // logrotate "create": rename, the writer still appends to the old file, then a new file.
    renameSync(log, join(d, 'app.log.1'));
    appendFileSync(join(d, 'app.log.1'), lines('b', 0, 100));
    writeFileSync(log, lines('c', 0, 500));
    await waitFor(async () => (await count('rot')) === 1600, '1600 lines after rename');

    // logrotate "copytruncate": the same file shrinks to 0 and grows again.
    truncateSync(log, 0);
    appendFileSync(log, lines('d', 0, 200));
    await waitFor(async () => (await count('rot')) === 1800, '1800 lines after truncation');
    expect(await distinct('rot')).toBe(1800);
    const [row] = await p.db.rows<{ LogAttributes: Record<string, string> }>(
      `SELECT LogAttributes FROM otel_logs WHERE Body = 'c 00000'`,
    );
    expect(row!.LogAttributes).toEqual({ 'log.file.path': log, 'log.file.name': 'app.log' });
  });

  it('resumes after a restart from its checkpoint: no line skipped, none repeated', async () => {
    const log = join(dir, 'restart.log');
    writeFileSync(log, lines('old', 0, 50));
    const cfg = { name: 'restart', include: [log], startAt: 'end', serviceName: 'restart' };
    const first = source(cfg);
    await p.startSource(first);
    appendFileSync(log, lines('new', 0, 100));
    await waitFor(async () => (await count('restart')) === 100, '100 new lines');
    appendFileSync(log, 'partial-');
    const cpFile = join(dataDir, 'checkpoints', 'files-restart.json');
    const size = readFileSync(log).length;
    // The checkpoint stops before the unterminated line.
    await waitFor(() => {
      const cp = Object.values(
        JSON.parse(readFileSync(cpFile, 'utf8')) as Record<string, { offset: number; line: number }>,
      );
      return cp.length === 1 && cp[0]!.offset === size - 'partial-'.length && cp[0]!.line === 100;
    }, 'checkpoint before the partial line');
    await first.stop();

    appendFileSync(log, `tail\n${lines('later', 0, 100)}`);
    await p.startSource(source(cfg));
    await waitFor(async () => (await count('restart')) === 201, '201 lines');
    expect(await distinct('restart')).toBe(201);
    expect(await p.db.scalar(`SELECT count() FROM otel_logs WHERE Body = 'partial-tail'`)).toBe(1);
    expect(await p.db.scalar(`SELECT count() FROM otel_logs WHERE Body LIKE 'old %'`)).toBe(0);
  });

  it('joins multi-line records by a start pattern and keeps bad JSON lines, naming file and line', async () => {
    const log = join(dir, 'java.log');
    writeFileSync(
      log,
      [
        '2026-11-23 04:40:00 ERROR boom',
        'java.lang.IllegalStateException: x',
        '\tat a.b.C.d(C.java:1)',
        '\tat a.b.C.e(C.java:2)',
        '2026-11-23 04:40:01 INFO next',
        '',
      ].join('\n'),
    );
    await p.startSource(
      source({
        name: 'java',
        include: [log],
        startAt: 'beginning',
        servicePathPattern: '/(java)\\.log$',
        multiline: { startPattern: '^\\d{4}-\\d{2}-\\d{2} ', timeoutMs: 100 },
      }),
    );
    await waitFor(async () => (await count('java')) === 2, 'two joined records');
    const bodies = await p.db.rows<{ Body: string }>(
      `SELECT Body FROM otel_logs WHERE ServiceName = 'java' ORDER BY Body`,
    );
    expect(bodies.map((b) => b.Body)).toEqual([
      '2026-11-23 04:40:00 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.b.C.d(C.java:1)\n\tat a.b.C.e(C.java:2)',
      '2026-11-23 04:40:01 INFO next',
    ]);

    const jl = join(dir, 'app.jsonl');
    writeFileSync(
      jl,
      `${JSON.stringify({ ts: 1795408410, level: 'warn', msg: 'json ok', service: 'jsonfile' })}\n{bad\n`,
    );
    await p.startSource(
      source({ name: 'json', include: [jl], startAt: 'beginning', format: 'json', serviceName: 'jsonfile' }),
    );
    await waitFor(async () => (await count('jsonfile')) === 2, 'two json-file rows');
    const rows = await p.db.rows<{
      Body: string;
      SeverityNumber: number;
      LogAttributes: Record<string, string>;
    }>(
      `SELECT Body, SeverityNumber, LogAttributes FROM otel_logs WHERE ServiceName = 'jsonfile' ORDER BY Body DESC`,
    );
    expect(rows[0]).toMatchObject({ Body: '{bad', SeverityNumber: 0 });
    expect(rows[0]!.LogAttributes['log.parse_error']).toMatch(new RegExp(`^${jl}:2: invalid JSON`));
    expect(rows[1]).toMatchObject({ Body: 'json ok', SeverityNumber: 13 });

    // The bad line is also a dead letter naming the file and the line.
    const letters = () =>
      p.db.rows<Record<string, unknown>>(
        `SELECT topic, offset, key, source, reason, payload FROM dead_letters WHERE source = 'files:json'`,
      );
    await waitFor(async () => (await letters()).length > 0, 'dead letter of the bad JSON line');
    const [letter, ...more] = await letters();
    expect(more).toEqual([]);
    expect(letter).toMatchObject({ topic: 'opsight.logs', offset: 2, key: jl, payload: '{bad' });
    expect(letter!.reason).toMatch(new RegExp(`^${jl}:2: invalid JSON`));
  });
});
