import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TOPICS } from '../../core/bus/topics.ts';
import type { Bus } from '../../core/bus/types.ts';
import type { Config } from '../../core/config/schema.ts';
import type { Logger } from '../../core/log.ts';
import { recordsIn } from '../../core/metrics.ts';
import type { Attributes, LogRecord } from '../../core/model/records.ts';
import type { DeadLetterSink } from '../dead-letters.ts';
import { SourceStats, type Source, type SourceContext } from '../source.ts';
import { fromSyslog } from './severity.ts';
import { FACILITIES, parseSyslog, type SyslogMessage } from './syslog-parse.ts';
import { logKey } from '../keys.ts';

/**
 * Syslog receiver: RFC 5424 and RFC 3164 over TCP (octet counting or newline framing, chosen
 * by the first byte of each connection, RFC 6587) and UDP (one message a datagram).
 * Malformed messages are kept, body = raw text, with `syslog.parse_error` naming the problem.
 */

type SyslogConfig = Config['ingest']['syslog'];

export interface RecordOptions {
  serviceNameAttributes: readonly string[];
  nowNanos: bigint;
  peer?: string;
  truncated?: boolean;
}

/** A parsed message -> a canonical LogRecord (attributes `syslog.*`, SD as `<sd-id>.<param>`). */
export function syslogRecord(m: SyslogMessage, o: RecordOptions): LogRecord {
  const attributes: Attributes = { 'syslog.format': m.format };
  if (m.facility !== undefined) attributes['syslog.facility'] = FACILITIES[m.facility] ?? String(m.facility);
  if (m.appName) attributes['syslog.appname'] = m.appName;
  if (m.procId) attributes['syslog.procid'] = m.procId;
  if (m.msgId) attributes['syslog.msgid'] = m.msgId;
  for (const [id, params] of m.structuredData) {
    if (params.length === 0) attributes[id] = '';
    for (const [k, v] of params) {
      const key = `${id}.${k}`;
      // A repeated PARAM-NAME keeps every value, comma-joined.
      attributes[key] = key in attributes ? `${attributes[key]},${v}` : v;
    }
  }
  if (m.error) attributes['syslog.parse_error'] = m.error;
  if (o.truncated) attributes['syslog.truncated'] = 'true';
  if (o.peer) attributes['client.address'] = o.peer;

  const resource: Attributes = {};
  if (m.hostname) resource['host.name'] = m.hostname;
  let serviceName = '';
  for (const k of o.serviceNameAttributes) {
    const v = attributes[k] ?? resource[k];
    if (v) {
      serviceName = v;
      break;
    }
  }
  if (serviceName) resource['service.name'] = serviceName;
  const severity = m.severity === undefined ? { number: 0, text: '' } : fromSyslog(m.severity);
  return {
    timeUnixNano: (m.timeUnixNano ?? o.nowNanos).toString(),
    observedTimeUnixNano: o.nowNanos.toString(),
    severityNumber: severity.number,
    severityText: severity.text,
    body: m.message,
    resource,
    attributes,
    serviceName,
  };
}

export type Frame = { data: Buffer; truncated: boolean };

/**
 * RFC 6587 framing of one TCP connection. Octet counting when the connection's first byte is
 * a digit, else newline (LF, CR LF) framing. Frames beyond `max` bytes are cut to `max` and
 * marked; the rest of such a frame is skipped.
 */
export class TcpFramer {
  private buf: Buffer = Buffer.alloc(0);
  private mode: 'octet' | 'newline' | undefined;
  private skip = 0;
  private skipToNewline = false;

  constructor(
    private readonly max: number,
    private readonly emit: (f: Frame) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let i = 0;
    const b = this.buf;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - i);
        this.skip -= n;
        i += n;
        if (this.skip > 0) break;
      }
      if (this.skipToNewline) {
        const nl = b.indexOf(10, i);
        if (nl === -1) {
          i = b.length;
          break;
        }
        this.skipToNewline = false;
        i = nl + 1;
      }
      if (i >= b.length) break;
      this.mode ??= b[i]! >= 0x30 && b[i]! <= 0x39 ? 'octet' : 'newline';
      const next = this.mode === 'octet' && isDigit(b[i]!) ? this.octet(b, i) : this.line(b, i);
      if (next === -1) break;
      i = next;
    }
    this.buf = i >= b.length ? Buffer.alloc(0) : b.subarray(i);
  }

  /** What is left when the peer closes: an unterminated line or a short octet frame. */
  end(): void {
    if (this.buf.length && !this.skip && !this.skipToNewline) {
      const data = trimEnd(this.buf);
      if (data.length) this.emit({ data: data.subarray(0, this.max), truncated: data.length > this.max });
    }
    this.buf = Buffer.alloc(0);
  }

  private octet(b: Buffer, i: number): number {
    let j = i;
    let len = 0;
    while (j < b.length && isDigit(b[j]!) && j - i < 10) len = len * 10 + (b[j++]! - 0x30);
    if (j >= b.length) return -1;
    // Not "LEN SP": this frame is read as a line, the connection stays in octet mode.
    if (b[j] !== 0x20) return this.line(b, i);
    const start = j + 1;
    if (len > this.max) {
      if (b.length - start < this.max) return -1;
      this.emit({ data: b.subarray(start, start + this.max), truncated: true });
      this.skip = len - this.max;
      return start + this.max;
    }
    if (b.length - start < len) return -1;
    this.emit({ data: b.subarray(start, start + len), truncated: false });
    return start + len;
  }

  private line(b: Buffer, i: number): number {
    const nl = b.indexOf(10, i);
    if (nl === -1) {
      if (b.length - i <= this.max) return -1;
      this.emit({ data: b.subarray(i, i + this.max), truncated: true });
      this.skipToNewline = true;
      return i + this.max;
    }
    const data = trimEnd(b.subarray(i, nl));
    if (data.length > this.max) this.emit({ data: data.subarray(0, this.max), truncated: true });
    else if (data.length) this.emit({ data, truncated: false });
    return nl + 1;
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** Drops trailing CR, LF and NUL, which senders append to frames and datagrams. */
function trimEnd(b: Buffer): Buffer {
  let e = b.length;
  while (e > 0 && (b[e - 1] === 10 || b[e - 1] === 13 || b[e - 1] === 0)) e--;
  return b.subarray(0, e);
}

const HIGH_WATER = 50_000;

/** Collects records and publishes them in batches, in order, at most every 50 ms. */
class Publisher {
  private pending: LogRecord[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Records handed to the bus and not yet published; TCP peers are paused above HIGH_WATER. */
  private queued = 0;
  private drained: (() => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly stats: SourceStats,
    private readonly log: Logger,
  ) {}

  push(r: LogRecord): void {
    this.pending.push(r);
    if (this.pending.length >= 5000) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 50);
  }

  get congested(): boolean {
    return this.queued >= HIGH_WATER;
  }

  onDrain(resume: () => void): void {
    this.drained.push(resume);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) {
      // Counted per batch: a labelled counter per message would cost more than the parse.
      this.stats.receive(batch.length);
      this.queued += batch.length;
      this.chain = this.chain.then(async () => {
        try {
          await this.bus.publish(
            TOPICS.logs,
            batch.map((value) => ({ key: logKey(value), value })),
          );
          this.stats.accept(batch.length);
          recordsIn.inc({ topic: TOPICS.logs }, batch.length);
        } catch (err) {
          this.stats.reject(batch.length, `publish failed: ${(err as Error).message}`);
          this.log.error({ err, records: batch.length }, 'syslog publish failed');
        }
        this.queued -= batch.length;
        if (this.queued < HIGH_WATER / 2) for (const resume of this.drained.splice(0)) resume();
      });
    }
    return this.chain;
  }
}

export class SyslogSource implements Source {
  readonly name = 'syslog';
  readonly kind = 'logs';
  private readonly stats = new SourceStats(this.name, this.kind);
  private tcp: Server | undefined;
  private udp: UdpSocket | undefined;
  private readonly sockets = new Set<Socket>();
  private publisher: Publisher | undefined;
  private deadLetters: DeadLetterSink | undefined;

  constructor(private readonly config: SyslogConfig) {}

  /** Bound ports (after start), e.g. when configured as 0. */
  ports(): { tcp?: number; udp?: number } {
    return {
      ...(this.tcp ? { tcp: (this.tcp.address() as AddressInfo).port } : {}),
      ...(this.udp ? { udp: this.udp.address().port } : {}),
    };
  }

  private receive(data: Buffer, truncated: boolean, peer: string | undefined): void {
    const now = Date.now();
    const raw = data.toString('utf8');
    const m = parseSyslog(raw, new Date(now));
    if (m.error) {
      this.stats.lastError = { at: new Date(now).toISOString(), message: m.error };
      // Kept as a record too (body = raw text); the dead letter says who sent what and why.
      this.deadLetters?.add({
        source: this.name,
        topic: TOPICS.logs,
        file: peer ? `syslog://${peer}` : 'syslog',
        reason: m.error,
        payload: raw,
      });
    }
    this.publisher!.push(
      syslogRecord(m, {
        serviceNameAttributes: this.config.serviceNameAttributes,
        nowNanos: BigInt(now) * 1_000_000n,
        ...(peer ? { peer } : {}),
        truncated,
      }),
    );
  }

  async start(ctx: SourceContext): Promise<void> {
    const { host, tcpPort, udpPort, maxMessageBytes } = this.config;
    this.publisher = new Publisher(ctx.bus, this.stats, ctx.log);
    this.deadLetters = ctx.deadLetters;
    if (tcpPort !== null) {
      const server = createServer((socket) => {
        this.sockets.add(socket);
        const peer = socket.remoteAddress;
        const framer = new TcpFramer(maxMessageBytes, (f) => this.receive(f.data, f.truncated, peer));
        socket.on('data', (chunk) => {
          framer.push(chunk);
          // TCP backpressure: a sender faster than the bus waits instead of filling memory.
          if (this.publisher!.congested && !socket.isPaused()) {
            socket.pause();
            this.publisher!.onDrain(() => socket.resume());
          }
        });
        socket.on('end', () => framer.end());
        socket.on('error', (err) => ctx.log.debug({ err, peer }, 'syslog connection error'));
        socket.on('close', () => this.sockets.delete(socket));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(tcpPort, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.tcp = server;
    }
    if (udpPort !== null) {
      const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      udp.on('message', (msg, rinfo) => {
        const data = trimEnd(msg);
        if (data.length === 0) return;
        this.receive(data.subarray(0, maxMessageBytes), data.length > maxMessageBytes, rinfo.address);
      });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(udpPort, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      udp.on('error', (err) => ctx.log.error({ err }, 'syslog UDP error'));
      this.udp = udp;
    }
    ctx.log.info({ host, ...this.ports() }, 'syslog listening');
  }

  async stop(): Promise<void> {
    const closing = this.tcp ? new Promise<void>((r) => this.tcp!.close(() => r())) : Promise.resolve();
    // Peers get a FIN; what they sent is framed on 'end' before the publisher's last flush.
    for (const s of this.sockets) s.end();
    await Promise.race([closing, new Promise((r) => setTimeout(r, 2000))]);
    for (const s of this.sockets) s.destroy();
    if (this.udp) await new Promise<void>((r) => this.udp!.close(() => r()));
    this.tcp = undefined;
    this.udp = undefined;
    await this.publisher?.flush();
  }

  state() {
    return this.stats.state();
  }
}

export function syslogSources(config: Config): Source[] {
  return config.ingest.syslog.enabled ? [new SyslogSource(config.ingest.syslog)] : [];
}
