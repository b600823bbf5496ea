import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { TOPICS } from '../../core/bus/topics.ts';
import type { Bus } from '../../core/bus/types.ts';
import type { Config } from '../../core/config/schema.ts';
import type { Logger } from '../../core/log.ts';
import { recordsIn } from '../../core/metrics.ts';
import type { LogRecord } from '../../core/model/records.ts';
import type { DeadLetterInput, DeadLetterSink } from '../dead-letters.ts';
import { SourceStats, type Source, type SourceContext } from '../source.ts';
import { CheckpointStore, type Checkpoint } from './checkpoints.ts';
import { normalizeJsonLog } from './normalize.ts';
import { logKey } from '../keys.ts';

/**
 * File tailing: polls globs, follows each file by device + inode so that rotation by rename
 * keeps reading the old file to its end (writers often append after the rename) while the new
 * file is read from its start; a file shrinking below the read position was truncated
 * (copytruncate) and is read again from 0. Checkpoints record the first byte not yet published.
 */

type FilesConfig = Config['ingest']['files'][number];

/** A file no glob matches any more is read to its end, then dropped after this long idle. */
const ROTATED_GRACE_MS = 2000;
const CHUNK = 256 * 1024;
const JSON_SERVICE_KEYS = ['service.name', 'service', 'serviceName', 'service_name', 'app'];

interface Pending {
  lines: string[];
  startOffset: number;
  startLine: number;
  lastAt: number;
}

interface Tracked {
  key: string;
  path: string;
  fd: FileHandle;
  /** Bytes read so far. */
  readOffset: number;
  /** Complete lines read so far. */
  line: number;
  partial: Buffer;
  pending: Pending | undefined;
  lastGrowth: number;
  matched: boolean;
}

export class FileSource implements Source {
  readonly name: string;
  readonly kind = 'logs';
  private readonly stats: SourceStats;
  private readonly store: CheckpointStore;
  private readonly tracked = new Map<string, Tracked>();
  private readonly startPattern: RegExp | undefined;
  private readonly servicePattern: RegExp | undefined;
  private bus: Bus | undefined;
  private log: Logger | undefined;
  private deadLetters: DeadLetterSink | undefined;
  /** Bad lines of the file being read; dead-lettered once its records are published. */
  private badLines: DeadLetterInput[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private firstScan = true;

  constructor(
    private readonly config: FilesConfig,
    dataDir: string,
  ) {
    this.name = `files:${config.name}`;
    this.stats = new SourceStats(this.name, this.kind);
    this.store = new CheckpointStore(join(resolve(dataDir), 'checkpoints', `files-${config.name}.json`));
    this.startPattern = config.multiline ? new RegExp(config.multiline.startPattern) : undefined;
    this.servicePattern = config.servicePathPattern ? new RegExp(config.servicePathPattern) : undefined;
  }

  async start(ctx: SourceContext): Promise<void> {
    this.bus = ctx.bus;
    this.log = ctx.log;
    this.deadLetters = ctx.deadLetters;
    await this.store.load();
    const loop = async () => {
      this.running = this.poll().catch((err: unknown) => {
        this.stats.lastError = { at: new Date().toISOString(), message: (err as Error).message };
        this.log?.warn({ err }, 'file poll failed');
      });
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.config.pollIntervalMs);
    };
    await loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    // Unfinished multi-line records and partial lines stay after the checkpoint: read next start.
    for (const t of this.tracked.values()) await t.fd.close().catch(() => {});
    this.tracked.clear();
  }

  state() {
    return this.stats.state();
  }

  private serviceFor(path: string): string {
    if (this.config.serviceName) return this.config.serviceName;
    const m = this.servicePattern?.exec(path);
    return m?.[1] ?? '';
  }

  private async poll(): Promise<void> {
    const paths = await glob(this.config.include, {
      absolute: true,
      ignore: this.config.exclude,
      onlyFiles: true,
      followSymbolicLinks: true,
    });
    const now = Date.now();
    for (const t of this.tracked.values()) t.matched = false;
    for (const path of paths.sort()) {
      const st = await stat(path).catch(() => undefined);
      if (!st) continue;
      const key = CheckpointStore.key(st.dev, st.ino);
      const t = this.tracked.get(key);
      if (t) {
        t.matched = true;
        t.path = path;
        continue;
      }
      await this.track(path, key, st.size, now);
    }
    this.firstScan = false;

    let lag = 0;
    for (const t of [...this.tracked.values()]) {
      const before = this.checkpoint(t);
      const records: LogRecord[] = [];
      let gone = false;
      this.badLines = [];
      try {
        const st = await t.fd.stat();
        if (st.size > t.readOffset) lag = Math.max(lag, (now - st.mtimeMs) / 1000);
        if (st.size < t.readOffset) this.truncated(t, records);
        if (await this.read(t, records)) t.lastGrowth = now;
        const timeout = this.config.multiline?.timeoutMs ?? 0;
        if (t.pending && Date.now() - t.pending.lastAt >= timeout) this.flushPending(t, records);
        gone = !t.matched && now - t.lastGrowth >= ROTATED_GRACE_MS;
        if (gone) this.finish(t, records);
        await this.publish(records);
        // After the publish: a failed one re-reads these lines, which would repeat the letters.
        for (const letter of this.badLines) this.deadLetters?.add(letter);
      } catch (err) {
        // Back to the last checkpoint: the same lines are read again at the next poll.
        Object.assign(t, { readOffset: before.offset, line: before.line, partial: Buffer.alloc(0) });
        t.pending = undefined;
        const message = `${t.path}: ${(err as Error).message}`;
        if (records.length) this.stats.reject(records.length, message);
        else this.stats.lastError = { at: new Date().toISOString(), message };
        this.log?.warn({ err, path: t.path }, 'file read or publish failed');
        continue;
      }
      if (gone) {
        await t.fd.close().catch(() => {});
        this.tracked.delete(t.key);
      } else {
        this.store.set(t.key, this.checkpoint(t));
      }
    }
    this.store.retain(new Set(this.tracked.keys()));
    await this.store.save();
    this.stats.lagSeconds = lag;
  }

  private async track(path: string, key: string, size: number, now: number): Promise<void> {
    const fd = await open(path, 'r').catch(() => undefined);
    if (!fd) return;
    const cp = this.store.get(key);
    let offset = 0;
    let line = 0;
    if (cp && cp.offset <= size) {
      offset = cp.offset;
      line = cp.line;
    } else if (!cp && this.firstScan && !this.store.existed && this.config.startAt === 'end') {
      offset = size;
    }
    this.tracked.set(key, {
      key,
      path,
      fd,
      readOffset: offset,
      line,
      partial: Buffer.alloc(0),
      pending: undefined,
      lastGrowth: now,
      matched: true,
    });
  }

  /** The first byte not yet in a published record, and the lines before it. */
  private checkpoint(t: Tracked): Checkpoint {
    if (t.pending) return { path: t.path, offset: t.pending.startOffset, line: t.pending.startLine - 1 };
    return { path: t.path, offset: t.readOffset - t.partial.length, line: t.line };
  }

  /** Reads to the end of the file; true if anything was read. */
  private async read(t: Tracked, out: LogRecord[]): Promise<boolean> {
    const buf = Buffer.allocUnsafe(CHUNK);
    let any = false;
    for (;;) {
      const { bytesRead } = await t.fd.read(buf, 0, CHUNK, t.readOffset);
      if (bytesRead === 0) return any;
      any = true;
      const chunk = t.partial.length
        ? Buffer.concat([t.partial, buf.subarray(0, bytesRead)])
        : buf.subarray(0, bytesRead);
      const chunkStart = t.readOffset - t.partial.length;
      t.readOffset += bytesRead;
      let i = 0;
      for (;;) {
        const nl = chunk.indexOf(10, i);
        if (nl === -1) break;
        this.line(t, chunk.subarray(i, nl), chunkStart + i, out);
        i = nl + 1;
      }
      // Overlong lines are cut into pieces of maxLineBytes rather than held without limit.
      while (chunk.length - i > this.config.maxLineBytes) {
        this.line(t, chunk.subarray(i, i + this.config.maxLineBytes), chunkStart + i, out);
        i += this.config.maxLineBytes;
      }
      t.partial = Buffer.from(chunk.subarray(i));
    }
  }

  private line(t: Tracked, bytes: Buffer, start: number, out: LogRecord[]): void {
    t.line++;
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (!this.startPattern) {
      if (text !== '') out.push(this.record(t, text, t.line));
      return;
    }
    const now = Date.now();
    if (!t.pending || this.startPattern.test(text)) {
      this.flushPending(t, out);
      t.pending = { lines: [text], startOffset: start, startLine: t.line, lastAt: now };
    } else {
      t.pending.lines.push(text);
      t.pending.lastAt = now;
    }
    if (t.pending.lines.length >= this.config.multiline!.maxLines) this.flushPending(t, out);
  }

  private flushPending(t: Tracked, out: LogRecord[]): void {
    if (!t.pending) return;
    const body = t.pending.lines.join('\n');
    if (body.trim() !== '') out.push(this.record(t, body, t.pending.startLine));
    t.pending = undefined;
  }

  /** A file that ended (rotated away or truncated): its last unterminated line is a line. */
  private finish(t: Tracked, out: LogRecord[]): void {
    if (t.partial.length) {
      this.line(t, t.partial, t.readOffset - t.partial.length, out);
      t.partial = Buffer.alloc(0);
    }
    this.flushPending(t, out);
  }

  private truncated(t: Tracked, out: LogRecord[]): void {
    this.finish(t, out);
    t.readOffset = 0;
    t.line = 0;
  }

  private record(t: Tracked, body: string, line: number): LogRecord {
    const nowNanos = BigInt(Date.now()) * 1_000_000n;
    const fileAttrs = { 'log.file.path': t.path, 'log.file.name': basename(t.path) };
    const service = this.serviceFor(t.path);
    if (this.config.format === 'json') {
      let error: string;
      try {
        const r = normalizeJsonLog(JSON.parse(body), { serviceNameAttributes: JSON_SERVICE_KEYS, nowNanos });
        if (r.ok) {
          const rec = r.record;
          Object.assign(rec.attributes, fileAttrs);
          if (!rec.serviceName && service) {
            rec.serviceName = service;
            rec.resource['service.name'] = service;
          }
          return rec;
        }
        error = r.error;
      } catch (err) {
        error = `invalid JSON: ${(err as Error).message}`;
      }
      // Kept as text, as syslog keeps malformed messages; the attribute says where and why.
      const message = `${t.path}:${line}: ${error}`;
      this.stats.lastError = { at: new Date().toISOString(), message };
      this.badLines.push({
        source: this.name,
        topic: TOPICS.logs,
        file: t.path,
        line,
        reason: error,
        payload: body,
      });
      return this.textRecord(body, service, { ...fileAttrs, 'log.parse_error': message }, nowNanos);
    }
    return this.textRecord(body, service, fileAttrs, nowNanos);
  }

  private textRecord(
    body: string,
    service: string,
    attributes: Record<string, string>,
    nowNanos: bigint,
  ): LogRecord {
    return {
      timeUnixNano: nowNanos.toString(),
      observedTimeUnixNano: nowNanos.toString(),
      severityNumber: 0,
      severityText: '',
      body,
      resource: service ? { 'service.name': service } : {},
      attributes,
      serviceName: service,
    };
  }

  private async publish(records: LogRecord[]): Promise<void> {
    if (!records.length) return;
    this.stats.receive(records.length);
    await this.bus!.publish(
      TOPICS.logs,
      records.map((value) => ({ key: logKey(value), value })),
    );
    this.stats.accept(records.length);
    recordsIn.inc({ topic: TOPICS.logs }, records.length);
  }
}

export function fileSources(config: Config): Source[] {
  return config.ingest.files.map((f) => new FileSource(f, config.dataDir));
}
