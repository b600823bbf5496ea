import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jsonlSources, parseJsonl } from '../../ingest/logs/jsonl.ts';
import {
  epochNanos,
  normalizeJsonLog,
  parseTimestamp,
  rfc3339Nanos,
  utcNanosText,
} from '../../ingest/logs/normalize.ts';
import { fromSyslog, fromText, otelText, parseSeverity } from '../../ingest/logs/severity.ts';
import { waitFor } from '../writer/support.ts';
import { startLogPipeline, type LogPipeline } from './logs-support.ts';

const NOW = 1_790_000_000_123_456_789n;
const opts = {
  serviceNameAttributes: ['service.name', 'service', 'serviceName', 'service_name', 'app'],
  nowNanos: NOW,
};
const norm = (o: unknown) => {
  const r = normalizeJsonLog(o, opts);
  if (!r.ok) throw new Error(r.error);
  return r.record;
};

describe('timestamps', () => {
  it('reads RFC 3339 with nanoseconds and offsets', () => {
    expect(rfc3339Nanos('2026-11-23T04:33:30.123456789Z')).toBe(1795408410123456789n);
    expect(rfc3339Nanos('2026-11-23T05:33:30.5+01:00')).toBe(1795408410500000000n);
    expect(rfc3339Nanos('2026-11-23 04:33:30')).toBe(1795408410000000000n);
    expect(rfc3339Nanos('2026-11-23T04:33:30+0000')).toBe(1795408410000000000n);
    expect(rfc3339Nanos('yesterday')).toBeUndefined();
    expect(rfc3339Nanos('2026-13-45T04:33:30Z')).toBeUndefined();
  });

  it('reads the common UTC shape by its fast path with the same result as the general one', () => {
    const p2 = (x: number) => String(x).padStart(2, '0');
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
    let fast = 0;
    for (let i = 0; i < 20_000; i++) {
      const [y, mo, d, h, mi, s] = [1965 + (i % 340), i % 14, i % 33, i % 26, i % 61, (i * 7) % 61];
      const text = `${y}-${p2(mo)}-${p2(d)}${pick(['T', 't', ' ', 'x'])}${p2(h)}:${p2(mi)}:${p2(s)}${pick(['', '.', '.5', ',123', '.123456789', '.1234567891234', '.12a'])}${pick(['', 'Z', 'z', '+01:00', ' '])}`;
      const quick = utcNanosText(text);
      if (quick === undefined) continue;
      fast++;
      expect(quick, text).toBe(rfc3339Nanos(text)?.toString());
    }
    expect(fast).toBeGreaterThan(1000);
    // Shapes left to the general path (rolled-over dates, offsets, the epoch itself).
    for (const text of ['2024-02-30T00:00:00Z', '2026-11-23T05:33:30+01:00', '1970-01-01T00:00:00Z'])
      expect(utcNanosText(text)).toBeUndefined();
    expect(norm({ message: 'x', '@timestamp': '2026-11-23T04:33:30.123Z' }).timeUnixNano).toBe(
      '1795408410123000000',
    );
  });

  it('lets the magnitude decide the epoch unit', () => {
    expect(epochNanos('1795408410')).toBe(1795408410000000000n);
    expect(epochNanos('1795408410.25')).toBe(1795408410250000000n);
    expect(epochNanos('1795408410123')).toBe(1795408410123000000n);
    expect(epochNanos('1795408410123456')).toBe(1795408410123456000n);
    expect(epochNanos('1795408410123456789')).toBe(1795408410123456789n);
    expect(parseTimestamp(1795408410.5)).toBe(1795408410500000000n);
    expect(parseTimestamp(1795408410123)).toBe(1795408410123000000n);
    expect(parseTimestamp(-1)).toBeUndefined();
    expect(parseTimestamp(true)).toBeUndefined();
  });
});

describe('severity', () => {
  it('maps words, OTel names and numbers', () => {
    expect(fromText('WARNING')).toEqual({ number: 13, text: 'WARNING' });
    expect(fromText('err')?.number).toBe(17);
    expect(fromText('crit')?.number).toBe(18);
    expect(fromText('Emerg')?.number).toBe(22);
    expect(fromText('notice')?.number).toBe(10);
    expect(fromText('INFO3')?.number).toBe(11);
    expect(fromText('banana')).toBeUndefined();
    expect(parseSeverity(30, 'pino')).toEqual({ number: 9, text: 'INFO' });
    expect(parseSeverity(50, 'pino')?.number).toBe(17);
    expect(parseSeverity(14, 'otel')).toEqual({ number: 14, text: 'WARN2' });
    expect(parseSeverity('3', 'syslog')).toEqual({ number: 17, text: 'err' });
    expect(parseSeverity(99, 'otel')).toBeUndefined();
    expect(fromSyslog(0).number).toBe(22);
    expect(otelText(24)).toBe('FATAL4');
  });
});

describe('normalizeJsonLog', () => {
  it('takes Logstash output', () => {
    const r = norm({
      '@timestamp': '2026-11-23T04:33:30.123Z',
      '@version': '1',
      message: 'GET /pay 500',
      level: 'ERROR',
      host: { name: 'web-1' },
      service: { name: 'checkout' },
      http: { response: { status_code: 500 } },
      tags: ['a', 'b'],
    });
    expect(r).toMatchObject({
      timeUnixNano: '1795408410123000000',
      severityNumber: 17,
      severityText: 'ERROR',
      body: 'GET /pay 500',
      serviceName: 'checkout',
      resource: { 'service.name': 'checkout', 'host.name': 'web-1' },
      attributes: { '@version': '1', 'http.response.status_code': '500', tags: '["a","b"]' },
    });
  });

  it('takes Fluent Bit and Vector output', () => {
    const fb = norm({
      date: 1795408410.123456,
      log: 'hello',
      stream: 'stderr',
      kubernetes: { pod_name: 'p' },
    });
    expect(fb.timeUnixNano).toBe('1795408410123456000');
    expect(fb.body).toBe('hello');
    expect(fb.attributes).toEqual({ stream: 'stderr', 'kubernetes.pod_name': 'p' });
    const v = norm({
      timestamp: '2026-11-23T04:33:30.000000001Z',
      message: 'x',
      host: 'node-3',
      source_type: 'file',
      file: '/var/log/a.log',
    });
    expect(v.timeUnixNano).toBe('1795408410000000001');
    expect(v.resource).toEqual({ 'host.name': 'node-3' });
    expect(v.attributes).toEqual({ source_type: 'file', file: '/var/log/a.log' });
  });

  it('takes pino output, trace ids, service.name as a dotted key and object bodies', () => {
    const p = norm({
      level: 40,
      time: 1795408410123,
      pid: 7,
      hostname: 'h',
      msg: 'slow',
      'service.name': 'api',
      trace_id: '5B8EFFF798038103D269B633813FC60C',
      span_id: 'eee19b7ec3c1b174',
    });
    expect(p).toMatchObject({
      severityNumber: 13,
      severityText: 'WARN',
      timeUnixNano: '1795408410123000000',
      serviceName: 'api',
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      attributes: { pid: '7' },
      resource: { 'service.name': 'api', 'host.name': 'h' },
    });
    const o = norm({ body: { event: 'login', user: 'u1' }, severity_number: 9 });
    expect(o.body).toBe('{"event":"login","user":"u1"}');
    expect(o.timeUnixNano).toBe(NOW.toString());
    expect(o.severityText).toBe('INFO');
  });

  it('resolves keys that flatten alike, alias order and keys two fields could claim', () => {
    // A dotted key and a nested path are one key: the later value, in the earlier one's place.
    const d = norm({
      message: 'm',
      'a.b': '1',
      x: 2,
      a: { b: '3' },
      host: { name: 'h1' },
      'host.name': 'h2',
    });
    expect(Object.entries(d.attributes)).toEqual([
      ['a.b', '3'],
      ['x', '2'],
    ]);
    expect(d.resource).toEqual({ 'host.name': 'h2' });
    // The first alias present wins whatever the key order; an unparsable id stays an attribute.
    const a = norm({
      message: 'm',
      hostname: 'second',
      host: { hostname: 'first' },
      traceId: 'not-hex',
      trace: { id: '5B8EFFF798038103D269B633813FC60C' },
      level: 'chatty',
      severity: 'WARN',
    });
    expect(a.resource).toEqual({ 'host.name': 'first' });
    expect(a.traceId).toBe('5b8efff798038103d269b633813fc60c');
    expect(a.severityNumber).toBe(13);
    expect(a.attributes).toEqual({ hostname: 'second', traceId: 'not-hex', level: 'chatty' });
    // Service keys that are other fields' aliases: `time` is read as the time first, `host` as
    // the service before the host field is read.
    const s = normalizeJsonLog(
      { message: 'm', time: '2026-11-23T04:33:30Z', host: 'h', app: 'shop' },
      { serviceNameAttributes: ['time', 'host', 'app'], nowNanos: NOW },
    );
    expect(s).toMatchObject({
      ok: true,
      record: { serviceName: 'h', resource: { 'service.name': 'h' }, timeUnixNano: '1795408410000000000' },
    });
  });

  it('keeps an unknown level word as text, and refuses what is not a log', () => {
    expect(norm({ message: 'm', level: 'chatty' })).toMatchObject({
      severityNumber: 0,
      severityText: 'chatty',
    });
    expect(normalizeJsonLog({ level: 'info' }, opts)).toEqual({
      ok: false,
      error: 'no body: expected one of body, message, msg, log, MESSAGE',
    });
    expect(normalizeJsonLog([1], opts)).toMatchObject({ ok: false, error: /array/ });
    expect(normalizeJsonLog({ message: 'm', timestamp: 'soon' }, opts)).toMatchObject({
      ok: false,
      error: /timestamp: "soon" is not an RFC 3339 time/,
    });
  });

  it('never throws on random and truncated lines', () => {
    const sample = JSON.stringify({
      '@timestamp': '2026-11-23T04:33:30.123Z',
      message: 'héllo',
      level: 'warn',
      a: { b: [1, { c: null }] },
    });
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const cut = sample.slice(0, Math.floor(rnd() * sample.length));
      const noise = Array.from({ length: 20 }, () => String.fromCharCode(Math.floor(rnd() * 128))).join('');
      lines.push(i % 2 ? cut : noise, sample);
    }
    const r = parseJsonl(lines.join('\n'), { ...opts, maxErrors: 10 });
    expect(r.records.length).toBeGreaterThanOrEqual(3000);
    expect(r.records.length + r.rejected).toBe(r.lines);
    expect(r.errors).toHaveLength(10);
  });
});

describe('POST /api/v1/logs/jsonl', () => {
  let p: LogPipeline;
  beforeAll(async () => {
    p = await startLogPipeline(inject('clickhouseUrl'), 'jsonl', jsonlSources);
  });
  afterAll(async () => {
    await p?.stop();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${p.url}/api/v1/logs/jsonl`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...headers },
      body,
    });

  it('keeps the good lines of a request and names the bad ones', async () => {
    const body = [
      JSON.stringify({
        '@timestamp': '2026-11-23T04:33:30.5Z',
        message: 'first',
        level: 'info',
        service: { name: 'jl-a' },
      }),
      '{"message": "broken',
      '',
      JSON.stringify({ date: 1795408411, log: 'second', 'service.name': 'jl-a', stream: 'stdout' }),
      JSON.stringify({ level: 'error' }),
      JSON.stringify({ message: 'third', timestamp: 'later' }),
    ].join('\n');
    const res = await post(body);
    expect(res.status).toBe(202);
    const json = (await res.json()) as {
      accepted: number;
      rejected: number;
      errors: { line: number; message: string }[];
    };
    expect(json.accepted).toBe(2);
    expect(json.rejected).toBe(3);
    expect(json.errors.map((e) => e.line)).toEqual([2, 5, 6]);
    expect(json.errors[0]!.message).toMatch(/^invalid JSON/);
    expect(json.errors[1]!.message).toMatch(/^no body/);
    expect(json.errors[2]!.message).toMatch(/^timestamp: "later"/);

    await waitFor(
      async () => (await p.db.scalar(`SELECT count() FROM otel_logs WHERE ServiceName = 'jl-a'`)) === 2,
      'rows',
    );
    const rows = await p.db.rows<Record<string, unknown>>(
      `SELECT toUnixTimestamp64Nano(Timestamp) AS t, SeverityNumber, SeverityText, Body, LogAttributes
       FROM otel_logs WHERE ServiceName = 'jl-a' ORDER BY Timestamp`,
    );
    expect(rows).toEqual([
      { t: 1795408410500000000, SeverityNumber: 9, SeverityText: 'info', Body: 'first', LogAttributes: {} },
      {
        t: 1795408411000000000,
        SeverityNumber: 0,
        SeverityText: '',
        Body: 'second',
        LogAttributes: { stream: 'stdout' },
      },
    ]);

    // Every bad line is a dead letter: its line number within the request, the reason, the text.
    const bad = [
      '{"message": "broken',
      JSON.stringify({ level: 'error' }),
      JSON.stringify({ message: 'third', timestamp: 'later' }),
    ];
    const letters = () =>
      p.db.rows<{ topic: string; offset: number; key: string; reason: string; payload: string }>(
        `SELECT topic, offset, key, reason, payload FROM dead_letters
         WHERE source = 'jsonl' AND payload IN (${bad.map((b) => `'${b.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')})
         ORDER BY offset`,
      );
    await waitFor(async () => (await letters()).length === 3, 'three dead letters');
    const got = await letters();
    expect(got.map((l) => [l.offset, l.payload])).toEqual([
      [2, bad[0]],
      [5, bad[1]],
      [6, bad[2]],
    ]);
    for (const l of got) {
      expect(l.topic).toBe('opsight.logs');
      expect(l.key).toMatch(/^\/api\/v1\/logs\/jsonl from /);
      expect(l.reason.startsWith(`${l.key}:${l.offset}: `)).toBe(true);
    }
    expect(got[0]!.reason).toContain('invalid JSON');
    expect(got[1]!.reason).toContain('no body');
    expect(got[2]!.reason).toContain('timestamp: "later"');
  });

  it('accepts gzip, application/json and text/plain bodies', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) =>
      JSON.stringify({ msg: `gz ${i}`, service: 'jl-gz', level: 30 }),
    );
    const gz = await post(gzipSync(lines.join('\n')), { 'content-encoding': 'gzip' });
    expect(gz.status).toBe(202);
    expect(await gz.json()).toEqual({ accepted: 1000, rejected: 0, errors: [] });
    const js = await post(lines[0]!, { 'content-type': 'application/json' });
    expect(js.status).toBe(202);
    const tx = await post(`${lines[1]!}\r\n`, { 'content-type': 'text/plain; charset=utf-8' });
    expect(tx.status).toBe(202);
    await waitFor(
      async () => (await p.db.scalar(`SELECT count() FROM otel_logs WHERE ServiceName = 'jl-gz'`)) === 1002,
      'gzip rows',
    );
    expect(await p.db.scalar(`SELECT min(SeverityNumber) FROM otel_logs WHERE ServiceName = 'jl-gz'`)).toBe(
      9,
    );
  });

  it('takes a body that is one JSON array, as Fluent Bit format json sends', async () => {
    const body = JSON.stringify([
      { date: 1795408412.5, log: 'array one', service: 'jl-arr' },
      { log: 'array two', service: 'jl-arr', level: 'debug' },
      { nobody: true },
    ]);
    const res = await post(body, { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      accepted: 2,
      rejected: 1,
      errors: [{ line: 3, message: 'no body: expected one of body, message, msg, log, MESSAGE' }],
    });
    await waitFor(
      async () => (await p.db.scalar(`SELECT count() FROM otel_logs WHERE ServiceName = 'jl-arr'`)) === 2,
      'array rows',
    );
  });

  it('answers 400 when nothing is valid, 415 for other types, and counts per source', async () => {
    const bad = await post('not json\n{"level":"info"}\n');
    expect(bad.status).toBe(400);
    const json = (await bad.json()) as { message: string; details: { accepted: number; rejected: number } };
    expect(json.message).toBe(
      'all 2 lines invalid; line 1: invalid JSON: ' + json.message.split('invalid JSON: ')[1],
    );
    expect(json.details).toMatchObject({ accepted: 0, rejected: 2 });
    expect((await post('')).status).toBe(400);
    expect((await post('{}', { 'content-type': 'image/png' })).status).toBe(415);
    const state = p.sources[0]!.state();
    expect(state).toMatchObject({ name: 'jsonl', kind: 'logs' });
    expect(state.received).toBe(state.accepted + state.rejected);
    expect(state.rejected).toBeGreaterThanOrEqual(5);
  });
});
