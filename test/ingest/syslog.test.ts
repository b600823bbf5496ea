import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  SyslogSource,
  TcpFramer,
  syslogRecord,
  syslogSources,
  type Frame,
} from '../../ingest/logs/syslog.ts';
import { parseSyslog } from '../../ingest/logs/syslog-parse.ts';
import { waitFor } from '../writer/support.ts';
import { startLogPipeline, type LogPipeline } from './logs-support.ts';

const NOW = new Date('2026-11-23T04:40:00Z');

describe('parseSyslog: RFC 5424', () => {
  it('parses the RFC examples', () => {
    expect(
      parseSyslog(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8",
      ),
    ).toEqual({
      format: 'rfc5424',
      facility: 4,
      severity: 2,
      timeUnixNano: 1065910455003000000n,
      hostname: 'mymachine.example.com',
      appName: 'su',
      msgId: 'ID47',
      structuredData: [],
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    const m = parseSyslog(
      "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    );
    expect(m).toMatchObject({ facility: 20, severity: 5, procId: '8710', hostname: '192.0.2.1' });
    expect(m.timeUnixNano).toBe(1061727255000003000n);
    expect(m.message).toBe("%% It's time to make the do-nuts.");
    const sd = parseSyslog(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
    );
    expect(sd.message).toBe('');
    expect(sd.structuredData).toEqual([
      [
        'exampleSDID@32473',
        [
          ['iut', '3'],
          ['eventSource', 'Application'],
          ['eventID', '1011'],
        ],
      ],
      ['examplePriority@32473', [['class', 'high']]],
    ]);
    expect(sd.error).toBeUndefined();
  });

  it('unescapes param values, takes nil fields and names what is wrong', () => {
    const m = parseSyslog('<14>1 - - - - - [a b="x\\"y\\]z\\\\" c="é"] body [not sd]');
    expect(m).toMatchObject({ format: 'rfc5424', severity: 6, message: 'body [not sd]' });
    expect(m.timeUnixNano).toBeUndefined();
    expect(m.hostname).toBeUndefined();
    expect(m.structuredData).toEqual([
      [
        'a',
        [
          ['b', 'x"y]z\\'],
          ['c', 'é'],
        ],
      ],
    ]);
    const cases: [string, RegExp][] = [
      ['<14>1 yesterday host app - - - m', /RFC 5424: invalid TIMESTAMP "yesterday"/],
      ['<14>1 2026-11-23T04:40:00 host app - - - m', /time zone/],
      ['<14>1 2026-11-23T04:40:00Z host app - - [sd x="1 m', /unterminated PARAM-VALUE of x/],
      ['<14>1 2026-11-23T04:40:00Z host app - - [sd x="1" m', /expected ="..." after PARAM-NAME m/],
      ['<14>1 2026-11-23T04:40:00Z host app - - [sd x=1] m', /expected ="..." after PARAM-NAME x/],
      ['<14>1 2026-11-23T04:40:00Z host app - - x m', /expected STRUCTURED-DATA/],
      ['<14>1 2026-11-23T04:40:00Z host', /missing or too long HOSTNAME/],
      ['<14>2 2026-11-23T04:40:00Z h a - - - m', /unsupported VERSION 2/],
    ];
    for (const [line, error] of cases) {
      const r = parseSyslog(line);
      expect(r.error, line).toMatch(error);
      expect(r.message).toBe(line);
      expect(r.severity).toBe(6);
    }
  });
});

describe('parseSyslog: RFC 3164 and the rest', () => {
  it('parses BSD lines as real daemons write them', () => {
    expect(
      parseSyslog("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", NOW),
    ).toEqual({
      format: 'rfc3164',
      facility: 4,
      severity: 2,
      timeUnixNano: BigInt(new Date(2026, 9, 11, 22, 14, 15).getTime()) * 1_000_000n,
      hostname: 'mymachine',
      appName: 'su',
      structuredData: [],
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(parseSyslog('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!', NOW)).toMatchObject({
      hostname: '10.0.0.99',
      message: 'Use the BFG!',
    });
    expect(
      parseSyslog('<86>Nov 23 04:38:26 web-1 sshd[4242]: Accepted publickey for root', NOW),
    ).toMatchObject({
      facility: 10,
      severity: 6,
      hostname: 'web-1',
      appName: 'sshd',
      procId: '4242',
      message: 'Accepted publickey for root',
    });
    // No hostname (local /dev/log style), a December line read in November is this year's,
    // one read in January last year's.
    expect(
      parseSyslog('<30>Dec 31 23:59:59 systemd[1]: Started foo.', new Date(2027, 0, 1, 0, 0, 5)),
    ).toMatchObject({
      appName: 'systemd',
      procId: '1',
      timeUnixNano: BigInt(new Date(2026, 11, 31, 23, 59, 59).getTime()) * 1_000_000n,
    });
    expect(parseSyslog('<13>2026-11-23T04:38:26.123456+00:00 host app: iso', NOW)).toMatchObject({
      timeUnixNano: 1795408706123456000n,
      hostname: 'host',
      appName: 'app',
      message: 'iso',
    });
    expect(
      parseSyslog('<189>: 2026 Nov 23 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down', NOW),
    ).toMatchObject({
      format: 'rfc3164',
      severity: 5,
      facility: 23,
    });
    const bare = parseSyslog('<13>just text', NOW);
    expect(bare).toMatchObject({ message: 'just text', severity: 5 });
    expect(bare.timeUnixNano).toBeUndefined();
  });

  it('keeps what has no PRI or a bad one, naming why', () => {
    expect(parseSyslog('hello')).toEqual({
      format: 'unknown',
      structuredData: [],
      message: 'hello',
      error: 'no PRI: expected <0..191> at the start',
    });
    expect(parseSyslog('<192>x').error).toBe('invalid PRI <192>: expected 0..191');
    expect(parseSyslog('<013>x').error).toMatch(/invalid PRI/);
  });

  it('never throws on thousands of random and truncated messages', () => {
    const samples = [
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\\"lication"][x@1 class="high"] \uFEFFmsg',
      '<86>Nov 23 04:38:26 web-1 sshd[4242]: Accepted publickey for root',
      '<13>2026-11-23T04:38:26.123456+00:00 host app: iso',
    ];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = '<>[]"\\= -:0123456789abcZ\uFEFF\n';
    let n = 0;
    for (const s of samples) {
      for (let cut = 0; cut <= s.length; cut++) {
        const r = parseSyslog(s.slice(0, cut), NOW);
        expect(typeof r.message).toBe('string');
        n++;
      }
      for (let k = 0; k < 2000; k++) {
        const chars = [...s];
        for (let j = 0; j < 3; j++)
          chars[Math.floor(rnd() * chars.length)] = alphabet[Math.floor(rnd() * alphabet.length)]!;
        const r = parseSyslog(chars.join(''), NOW);
        const rec = syslogRecord(r, { serviceNameAttributes: ['syslog.appname'], nowNanos: 1n });
        expect(typeof rec.body).toBe('string');
        n++;
      }
    }
    for (let k = 0; k < 2000; k++) {
      const len = Math.floor(rnd() * 80);
      const s = Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
      expect(typeof parseSyslog(`<1${s}`, NOW).message).toBe('string');
      n++;
    }
    expect(n).toBeGreaterThan(8000);
  });
});

describe('syslogRecord', () => {
  it('maps PRI to OTel severity and takes service.name by the configured precedence', () => {
    const m = parseSyslog(
      '<11>1 2026-11-23T04:40:00Z web-1 nginx 12 - [svc@1 name="shop"] upstream timed out',
    );
    const byApp = syslogRecord(m, { serviceNameAttributes: ['syslog.appname'], nowNanos: 5n });
    expect(byApp).toMatchObject({
      severityNumber: 17,
      severityText: 'err',
      serviceName: 'nginx',
      body: 'upstream timed out',
      timeUnixNano: '1795408800000000000',
      observedTimeUnixNano: '5',
      resource: { 'host.name': 'web-1', 'service.name': 'nginx' },
      attributes: { 'syslog.facility': 'user', 'syslog.procid': '12', 'svc@1.name': 'shop' },
    });
    const bySd = syslogRecord(m, { serviceNameAttributes: ['svc@1.name', 'syslog.appname'], nowNanos: 5n });
    expect(bySd.serviceName).toBe('shop');
    const byHost = syslogRecord(parseSyslog('<14>just text'), {
      serviceNameAttributes: ['syslog.appname', 'host.name'],
      nowNanos: 5n,
    });
    expect(byHost).toMatchObject({ serviceName: '', timeUnixNano: '5', severityNumber: 9 });
  });
});

describe('TcpFramer', () => {
  const frames = (max: number, chunks: (string | Buffer)[]) => {
    const out: Frame[] = [];
    const f = new TcpFramer(max, (fr) => out.push({ data: Buffer.from(fr.data), truncated: fr.truncated }));
    for (const c of chunks) f.push(Buffer.from(c));
    f.end();
    return out.map((fr) => `${fr.data.toString()}${fr.truncated ? ' (truncated)' : ''}`);
  };

  it('reads octet counting split anywhere, and newline framing with CR LF', () => {
    const msg = '<13>1 - h a - - - héllo';
    const framed = `${Buffer.byteLength(msg)} ${msg}`.repeat(3);
    const bytes = Buffer.from(framed);
    for (let cut = 1; cut < bytes.length; cut += 3) {
      expect(frames(1000, [bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual([msg, msg, msg]);
    }
    expect(frames(1000, ['<13>a\r\n<13>', 'b\n\n<13>c'])).toEqual(['<13>a', '<13>b', '<13>c']);
  });

  it('cuts frames beyond the maximum and carries on with the next', () => {
    expect(frames(8, ['<13>0123456789\n<13>ok\n'])).toEqual(['<13>0123 (truncated)', '<13>ok']);
    expect(frames(8, ['14 <13>0123456789', '5 <13>x'])).toEqual(['<13>0123 (truncated)', '<13>x']);
    expect(frames(8, ['<13>0123', '456789', '\n<13>ok'])).toEqual(['<13>0123 (truncated)', '<13>ok']);
  });
});

describe('syslog from util-linux logger into otel_logs', () => {
  let p: LogPipeline;
  let ports: { tcp?: number; udp?: number };
  beforeAll(async () => {
    p = await startLogPipeline(inject('clickhouseUrl'), 'syslog', syslogSources, {
      syslog: { enabled: true, tcpPort: 0, udpPort: 0, maxMessageBytes: 1024 },
    });
    ports = (p.sources[0] as SyslogSource).ports();
  });
  afterAll(async () => {
    await p?.stop();
  });

  const logger = (args: string[], message: string) =>
    execFileSync('logger', ['--server', '127.0.0.1', ...args, message], { stdio: 'pipe' });

  type Row = {
    ServiceName: string;
    SeverityNumber: number;
    SeverityText: string;
    Body: string;
    ResourceAttributes: Record<string, string>;
    LogAttributes: Record<string, string>;
    t: number;
  };
  const rows = (where: string) =>
    p.db.rows<Row>(
      `SELECT ServiceName, SeverityNumber, SeverityText, Body, ResourceAttributes, LogAttributes,
              toUnixTimestamp(Timestamp) AS t FROM otel_logs WHERE ${where} ORDER BY Body`,
    );

  it('takes RFC 5424 over TCP with octet counting and over UDP', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 20; i++)
      logger(
        [
          '--tcp',
          '--port',
          String(ports.tcp),
          '--rfc5424',
          '--octet-count',
          '-t',
          'app5424',
          '-p',
          'local0.err',
          '--msgid',
          'ID47',
          '--sd-id',
          'ex@32473',
          '--sd-param',
          'k="v\\"q"',
          '--id=4242',
        ],
        `tcp 5424 message ${String(i).padStart(2, '0')}`,
      );
    logger(
      ['--udp', '--port', String(ports.udp), '--rfc5424', '-t', 'app5424', '-p', 'auth.warning'],
      'udp 5424 message',
    );
    await waitFor(async () => (await rows(`ServiceName = 'app5424'`)).length === 21, '21 rows');
    const all = await rows(`ServiceName = 'app5424'`);
    const tcp = all[0]!;
    expect(tcp).toMatchObject({
      ServiceName: 'app5424',
      SeverityNumber: 17,
      SeverityText: 'err',
      Body: 'tcp 5424 message 00',
      LogAttributes: {
        'syslog.format': 'rfc5424',
        'syslog.facility': 'local0',
        'syslog.appname': 'app5424',
        'syslog.procid': '4242',
        'syslog.msgid': 'ID47',
        'ex@32473.k': 'v"q',
        'timeQuality.tzKnown': '1',
        'client.address': '127.0.0.1',
      },
    });
    expect(tcp.ResourceAttributes['host.name']).toBeTruthy();
    expect(Math.abs(tcp.t - t0)).toBeLessThan(600);
    const udp = all.find((r) => r.Body === 'udp 5424 message')!;
    expect(udp).toMatchObject({
      SeverityNumber: 13,
      SeverityText: 'warning',
      LogAttributes: { 'syslog.facility': 'auth' },
    });
  });

  it('takes RFC 3164 over TCP with newline framing and over UDP', async () => {
    logger(
      ['--tcp', '--port', String(ports.tcp), '--rfc3164', '-t', 'app3164', '--id=77', '-p', 'daemon.notice'],
      'tcp 3164 message',
    );
    logger(
      ['--udp', '--port', String(ports.udp), '--rfc3164', '-t', 'app3164', '-p', 'user.debug'],
      'udp 3164 message',
    );
    await waitFor(async () => (await rows(`ServiceName = 'app3164'`)).length === 2, '2 rows');
    const [tcp, udp] = await rows(`ServiceName = 'app3164'`);
    expect(tcp).toMatchObject({
      Body: 'tcp 3164 message',
      SeverityNumber: 10,
      SeverityText: 'notice',
      LogAttributes: { 'syslog.format': 'rfc3164', 'syslog.facility': 'daemon', 'syslog.procid': '77' },
    });
    expect(udp).toMatchObject({ Body: 'udp 3164 message', SeverityNumber: 5, SeverityText: 'debug' });
  });

  it('keeps malformed and oversized messages, marked, without dropping the connection', async () => {
    const socket = connect(ports.tcp!, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const big = 'x'.repeat(3000);
    socket.end(
      `garbage without pri\n<14>1 badtime h badapp - - - m\n<14>Nov 23 04:40:00 h bigapp: ${big}\n<14>Nov 23 04:40:00 h okapp: after\n`,
    );
    await waitFor(
      async () =>
        (await rows(`Body LIKE 'garbage%' OR ServiceName IN ('bigapp', 'okapp') OR Body LIKE '%badtime%'`))
          .length === 4,
      '4 rows',
    );
    const got = await rows(
      `Body LIKE 'garbage%' OR ServiceName IN ('bigapp', 'okapp') OR Body LIKE '%badtime%'`,
    );
    const byBody = (s: string) => got.find((r) => r.Body.startsWith(s))!;
    expect(byBody('garbage')).toMatchObject({
      SeverityNumber: 0,
      ServiceName: '',
      LogAttributes: {
        'syslog.parse_error': 'no PRI: expected <0..191> at the start',
        'syslog.format': 'unknown',
      },
    });
    expect(byBody('<14>1 badtime')).toMatchObject({
      SeverityNumber: 9,
      LogAttributes: {
        'syslog.parse_error': 'RFC 5424: invalid TIMESTAMP "badtime": expected RFC 3339 with a time zone',
      },
    });
    const cut = got.find((r) => r.ServiceName === 'bigapp')!;
    expect(cut.LogAttributes['syslog.truncated']).toBe('true');
    expect(cut.Body.length).toBe(1024 - '<14>Nov 23 04:40:00 h bigapp: '.length);
    expect(byBody('after').ServiceName).toBe('okapp');
    const state = p.sources[0]!.state();
    expect(state.received).toBeGreaterThanOrEqual(27);
    expect(state.accepted).toBe(state.received);
    expect(state.lastError?.message).toBeTruthy();

    // Each malformed message is also a dead letter naming the peer and the reason.
    const letters = () =>
      p.db.rows<Record<string, unknown>>(
        `SELECT topic, key, source, reason, payload FROM dead_letters
         WHERE source = 'syslog' AND (payload LIKE 'garbage%' OR payload LIKE '%badtime%') ORDER BY payload`,
      );
    await waitFor(async () => (await letters()).length === 2, 'two dead letters');
    expect(await letters()).toEqual([
      {
        topic: 'opsight.logs',
        key: 'syslog://127.0.0.1',
        source: 'syslog',
        reason:
          'syslog://127.0.0.1: RFC 5424: invalid TIMESTAMP "badtime": expected RFC 3339 with a time zone',
        payload: '<14>1 badtime h badapp - - - m',
      },
      {
        topic: 'opsight.logs',
        key: 'syslog://127.0.0.1',
        source: 'syslog',
        reason: 'syslog://127.0.0.1: no PRI: expected <0..191> at the start',
        payload: 'garbage without pri',
      },
    ]);
    // Well-formed messages leave none.
    expect(
      await p.db.scalar(
        `SELECT count() FROM dead_letters WHERE source = 'syslog' AND payload LIKE '%after%'`,
      ),
    ).toBe(0);
  });
});
