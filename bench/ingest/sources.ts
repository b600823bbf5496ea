import { createWriteStream, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { compressSync } from 'snappy';
import { WriteRequestType } from '../../ingest/metrics/prompb.ts';

/**
 * The ingest benchmark's workloads: for each source, the data (built before the clock starts),
 * the config that enables the source, how to send it, and the table its rows land in.
 */

export interface SendContext {
  /** http://host:port of the running opsight. */
  http: string;
  /** Free ports/dirs chosen for this run, as in `config`. */
  syslogPort: number;
  dir: string;
}

export interface Workload {
  name: string;
  unit: string;
  table: string;
  /** Rows the table must hold at the end. */
  rows: number;
  /** Extra opsight config (ingest.*), given the run's free port and temp directory. */
  config(ctx: SendContext): Record<string, unknown>;
  /** Work done before the clock starts (files to tail, billing exports). */
  prepare?(ctx: SendContext): Promise<void>;
  /** Sends everything (or moves the prepared file into the watched directory); the clock starts here. */
  send(ctx: SendContext): Promise<void>;
}

const SERVICES = Array.from({ length: 20 }, (_, i) => `service-${i}`);
// Recent data: the runtime applies the configured TTLs (metrics 30 days, logs 14 days).
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

// node:http with keep-alive: undici's fetch copied each body, a sender CPU cost opsight does not have.
const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        res.on('data', () => {});
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function postAll(
  url: string,
  bodies: Uint8Array[],
  headers: Record<string, string>,
  ok: number[],
  concurrency = 4,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        for (;;) {
          const status = await post(url, body, headers);
          if (ok.includes(status)) break;
          // 503: the bus is full (ClickHouse is the bound); a sender backs off and retries.
          if (status === 503) await new Promise((r) => setTimeout(r, 100));
          else throw new Error(`${url}: HTTP ${status}`);
        }
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// metrics

/**
 * `series` distinct label sets (50 metric names x hosts x CPUs), each sampled every 15 s of
 * simulated time, as Prometheus would send them; a request holds 2,000 samples in series order.
 */
export function remoteWriteBodies(samples: number, series = 10_000, perRequest = 2000): Buffer[] {
  const bodies: Buffer[] = [];
  const t0 = BASE_MS;
  for (let first = 0; first < samples; first += perRequest) {
    const timeseries = [];
    for (let i = first; i < Math.min(samples, first + perRequest); i++) {
      const s = i % series;
      timeseries.push({
        labels: [
          { name: '__name__', value: `node_metric_${s % 50}` },
          { name: 'cpu', value: String(Math.floor(s / 50_000) % 64) },
          { name: 'instance', value: `host-${Math.floor(s / 50) % 1000}:9100` },
          { name: 'job', value: `job-${Math.floor(s / 50) % 5}` },
          { name: 'mode', value: ['idle', 'user', 'system', 'iowait'][s % 4]! },
        ],
        samples: [{ value: i * 0.25, timestamp: t0 + Math.floor(i / series) * 15_000 }],
      });
    }
    bodies.push(
      compressSync(
        Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries })).finish()),
      ),
    );
  }
  return bodies;
}

export function remoteWrite(samples: number, series = 10_000, perRequest = 2000): Workload {
  let bodies: Buffer[] = [];
  return {
    name: 'remote_write',
    unit: 'samples',
    table: 'otel_metrics_gauge',
    rows: samples,
    config: () => ({}),
    async prepare() {
      bodies = remoteWriteBodies(samples, series, perRequest);
    },
    send: (ctx) =>
      postAll(
        `${ctx.http}/api/v1/write`,
        bodies,
        { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        [204],
      ),
  };
}

const otlpRoot = protobuf.loadSync(
  fileURLToPath(new URL('../../ingest/otlp/proto/otlp.proto', import.meta.url)),
);
const MetricsRequest = otlpRoot.lookupType('opsight.otlp.ExportMetricsServiceRequest');
const LogsRequest = otlpRoot.lookupType('opsight.otlp.ExportLogsServiceRequest');
const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
const resource = (svc: number) => ({
  attributes: [kv('service.name', `service-${svc}`), kv('host.name', `host-${svc % 50}.internal`)],
});
const BASE_NS = BigInt(BASE_MS) * 1_000_000n;

export function otlpMetrics(points: number, perRequest = 1000): Workload {
  let bodies: Uint8Array[] = [];
  return {
    name: 'OTLP metrics',
    unit: 'points',
    table: 'otel_metrics_gauge',
    rows: points,
    config: () => ({}),
    async prepare() {
      bodies = [];
      for (let r = 0; r * perRequest < points; r++) {
        const n = Math.min(perRequest, points - r * perRequest);
        const metrics = Array.from({ length: 10 }, (_, m) => ({
          name: `app.requests.${m}`,
          unit: '1',
          gauge: {
            dataPoints: Array.from({ length: Math.floor(n / 10) + (m < n % 10 ? 1 : 0) }, (_, i) => ({
              attributes: [kv('method', ['GET', 'POST'][i % 2]!), kv('path', `/api/v1/r/${i}`)],
              timeUnixNano: String(BASE_NS + BigInt(r) * 1_000_000n),
              asDouble: r * 0.5 + i,
            })),
          },
        }));
        const body = {
          resourceMetrics: [
            { resource: resource(r % 20), scopeMetrics: [{ scope: { name: 'bench' }, metrics }] },
          ],
        };
        bodies.push(MetricsRequest.encode(MetricsRequest.fromObject(body)).finish());
      }
    },
    send: (ctx) =>
      postAll(`${ctx.http}/v1/metrics`, bodies, { 'content-type': 'application/x-protobuf' }, [200]),
  };
}

// ---------------------------------------------------------------------------------------------
// logs

export function otlpLogs(lines: number, perRequest = 1000): Workload {
  let bodies: Uint8Array[] = [];
  return {
    name: 'OTLP logs',
    unit: 'lines',
    table: 'otel_logs',
    rows: lines,
    config: () => ({}),
    async prepare() {
      bodies = [];
      for (let r = 0; r * perRequest < lines; r++) {
        const n = Math.min(perRequest, lines - r * perRequest);
        const logRecords = Array.from({ length: n }, (_, i) => ({
          timeUnixNano: String(BASE_NS + BigInt(r * perRequest + i) * 1000n),
          severityNumber: 9,
          severityText: 'INFO',
          body: { stringValue: `request ${r}-${i} served in ${i % 97} ms for user ${i % 1013}` },
          attributes: [kv('http.route', `/api/v1/r/${i % 100}`), kv('http.status_code', '200')],
        }));
        const body = {
          resourceLogs: [
            { resource: resource(r % 20), scopeLogs: [{ scope: { name: 'bench' }, logRecords }] },
          ],
        };
        bodies.push(LogsRequest.encode(LogsRequest.fromObject(body)).finish());
      }
    },
    send: (ctx) =>
      postAll(`${ctx.http}/v1/logs`, bodies, { 'content-type': 'application/x-protobuf' }, [200]),
  };
}

const jsonLine = (i: number) =>
  JSON.stringify({
    '@timestamp': new Date(BASE_MS + i).toISOString(),
    level: i % 10 === 0 ? 'error' : 'info',
    message: `GET /api/v1/items/${i % 1000} answered 200 in ${i % 97} ms`,
    service: { name: SERVICES[i % 20] },
    host: { name: `host-${i % 50}` },
    http: { method: 'GET', status_code: 200 },
  });

export function jsonLines(lines: number, perRequest = 10_000): Workload {
  let bodies: Buffer[] = [];
  return {
    name: 'JSON lines (HTTP)',
    unit: 'lines',
    table: 'otel_logs',
    rows: lines,
    config: () => ({}),
    async prepare() {
      bodies = [];
      for (let first = 0; first < lines; first += perRequest) {
        const parts: string[] = [];
        for (let i = first; i < Math.min(lines, first + perRequest); i++) parts.push(jsonLine(i));
        bodies.push(Buffer.from(parts.join('\n') + '\n'));
      }
    },
    send: (ctx) =>
      postAll(`${ctx.http}/api/v1/logs/jsonl`, bodies, { 'content-type': 'application/x-ndjson' }, [202], 2),
  };
}

export function syslog(lines: number): Workload {
  let payload: Buffer[] = [];
  return {
    name: 'syslog RFC 5424 (TCP)',
    unit: 'lines',
    table: 'otel_logs',
    rows: lines,
    config: (ctx) => ({ syslog: { enabled: true, tcpPort: ctx.syslogPort, udpPort: null } }),
    async prepare() {
      payload = [];
      let chunk: string[] = [];
      for (let i = 0; i < lines; i++) {
        const msg = `<134>1 ${new Date(BASE_MS).toISOString().slice(0, 19)}.${String(i % 1_000_000).padStart(6, '0')}Z host-${i % 50} ${SERVICES[i % 20]} ${1000 + (i % 50)} ID47 [meta@32473 seq="${i}"] GET /api/v1/items/${i % 1000} answered 200`;
        chunk.push(`${Buffer.byteLength(msg)} ${msg}`);
        if (chunk.length === 5000 || i === lines - 1) {
          payload.push(Buffer.from(chunk.join('')));
          chunk = [];
        }
      }
    },
    send: (ctx) =>
      new Promise<void>((resolve, reject) => {
        const sock = connect(ctx.syslogPort, '127.0.0.1', async () => {
          for (const p of payload) {
            if (!sock.write(p)) await new Promise<void>((r) => sock.once('drain', () => r()));
          }
          sock.end(() => resolve());
        });
        sock.once('error', reject);
      }),
  };
}

/** File tailing: a JSON-lines file written before the start, read from the beginning. */
export function fileTail(lines: number): Workload {
  return {
    name: 'file tail (JSON lines)',
    unit: 'lines',
    table: 'otel_logs',
    rows: lines,
    config: (ctx) => ({
      files: [
        {
          name: 'bench',
          include: [join(ctx.dir, 'logs', '*.log')],
          startAt: 'beginning',
          format: 'json',
          serviceName: 'bench',
          pollIntervalMs: 50,
        },
      ],
    }),
    async prepare(ctx) {
      mkdirSync(join(ctx.dir, 'logs'), { recursive: true });
      mkdirSync(join(ctx.dir, 'staging'), { recursive: true });
      const out = createWriteStream(join(ctx.dir, 'staging', 'app.log'));
      for (let first = 0; first < lines; first += 10_000) {
        const parts: string[] = [];
        for (let i = first; i < Math.min(lines, first + 10_000); i++) parts.push(jsonLine(i));
        if (!out.write(parts.join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((r) => out.end(() => r()));
    },
    // The clock starts when the finished file appears in the watched directory.
    send: async (ctx) => renameSync(join(ctx.dir, 'staging', 'app.log'), join(ctx.dir, 'logs', 'app.log')),
  };
}

// ---------------------------------------------------------------------------------------------
// billing

const FOCUS_SAMPLE = '/work/shared/data/focus/focus_sample.csv';

/** FOCUS CSV in a watched directory: the data rows of the shared sample, repeated. */
export function billingCsv(rows: number): Workload {
  return {
    name: 'billing FOCUS CSV (directory)',
    unit: 'rows',
    table: 'billing_focus',
    rows,
    config: (ctx) => ({
      billing: [{ name: 'bench', kind: 'directory', path: join(ctx.dir, 'billing'), intervalSeconds: 1 }],
    }),
    async prepare(ctx) {
      mkdirSync(join(ctx.dir, 'billing'), { recursive: true });
      mkdirSync(join(ctx.dir, 'staging'), { recursive: true });
      const text = readFileSync(FOCUS_SAMPLE, 'utf8');
      const nl = text.indexOf('\n');
      const data = text
        .slice(nl + 1)
        .trimEnd()
        .split('\n');
      const out = createWriteStream(join(ctx.dir, 'staging', 'focus.csv'));
      out.write(text.slice(0, nl + 1));
      for (let i = 0; i < rows; i += data.length) {
        const block = data.slice(0, Math.min(data.length, rows - i)).join('\n') + '\n';
        if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((r) => out.end(() => r()));
    },
    send: async (ctx) =>
      renameSync(join(ctx.dir, 'staging', 'focus.csv'), join(ctx.dir, 'billing', 'focus.csv')),
  };
}

export interface WorkloadOptions {
  /** Distinct series (remote_write). */
  series?: number;
}

export const WORKLOADS: Record<string, (n: number, o?: WorkloadOptions) => Workload> = {
  'remote-write': (n, o) => remoteWrite(n, o?.series),
  'otlp-metrics': (n) => otlpMetrics(n),
  'otlp-logs': (n) => otlpLogs(n),
  jsonl: (n) => jsonLines(n),
  syslog: (n) => syslog(n),
  file: (n) => fileTail(n),
  'billing-csv': (n) => billingCsv(n),
};
