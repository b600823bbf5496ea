import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import protobuf from 'protobufjs';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import { decodeValue, encodeValue } from '../../core/bus/kafka.ts';
import { partitionFor } from '../../core/bus/partitioner.ts';
import { forEachMetricPoint, isMetricSamples, type MetricSamples } from '../../core/model/metric-samples.ts';
import type { MetricPoint } from '../../core/model/records.ts';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { loadConfig } from '../../core/config/load.ts';
import { configSchema } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { MAX_PACK } from '../../ingest/metrics/packer.ts';
import { RemoteWriteSource, RequestMapper } from '../../ingest/metrics/remote-write.ts';
import { DecodeError, WriteRequestType, decodeWriteRequest, labelsOf } from '../../ingest/metrics/prompb.ts';
import { seriesKey } from '../../ingest/keys.ts';
import { startIngestRole } from '../../ingest/role.ts';
import { buildSources } from '../../ingest/sources.ts';
import { quiet, testDatabase, uid, waitFor, type TestDatabase } from '../writer/support.ts';

/**
 * The remote_write receiver in a running ingest role (in-process bus, the shared ClickHouse):
 * requests built from the proto here, and a real Prometheus remote-writing what it scrapes.
 */

let db: TestDatabase;
let rt: Runtime;
let url: string;
const dirs: string[] = [];
/** Shorter than the test timeout, so a miss fails with what was awaited. */
const WAIT_MS = 60_000;
const wait = (cond: () => Promise<boolean>, what: string) => waitFor(cond, what, WAIT_MS);

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'rw');
  const config = configSchema.parse({
    clickhouse: { url: inject('clickhouseUrl'), database: db.database },
    http: { addr: '127.0.0.1:0' },
    writer: { maxAgeMs: 200 },
  });
  rt = await startRuntime(config, { ingest: startIngestRole }, ['ingest']);
  url = `http://${rt.httpAddress}/api/v1/write`;
});

afterAll(async () => {
  await rt?.stop();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
};

/** A WriteRequest as protobufjs objects -> the snappy body Prometheus would send. */
function body(request: object): Buffer {
  return compressSync(Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject(request)).finish()));
}

function post(payload: Uint8Array, headers: Record<string, string> = HEADERS, target = url) {
  return fetch(target, { method: 'POST', headers, body: payload });
}

const labels = (l: Record<string, string>) => Object.entries(l).map(([name, value]) => ({ name, value }));

/** Prometheus's stale marker, a NaN with payload 2. */
function staleNaN(): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, 0x7ff00000);
  v.setUint32(4, 2);
  return v.getFloat64(0);
}

describe('remote_write requests built from the proto', () => {
  it('stores exact values, labels and timestamps; counters from metadata become sums', async () => {
    const metric = uid('rw_exact');
    // Recent: the runtime's migration sets the metrics TTL (30 days).
    const t0 = Date.now() - 60_000;
    const res = await post(
      body({
        timeseries: [
          {
            labels: labels({
              __name__: metric,
              instance: 'web-1:9100',
              job: 'checkout',
              path: '/pay',
              z: 'ü',
            }),
            samples: [
              { value: 0.1, timestamp: t0 },
              { value: -2.5e300, timestamp: t0 + 1 },
              { value: NaN, timestamp: t0 + 2 },
              { value: Infinity, timestamp: t0 + 3 },
              { value: staleNaN(), timestamp: t0 + 4 },
            ],
          },
          {
            labels: labels({ __name__: `${metric}_total`, job: 'checkout', code: '200' }),
            samples: [{ value: 42, timestamp: t0 }],
          },
        ],
        metadata: [{ type: 1, metricFamilyName: `${metric}_total`, help: 'Requests served.', unit: '' }],
      }),
    );
    expect(res.status).toBe(204);

    await wait(
      async () =>
        (await db.scalar(`SELECT count() FROM otel_metrics_gauge WHERE MetricName = '${metric}'`)) === 4,
      'the four gauge samples',
    );
    const rows = await db.rows<Record<string, unknown>>(
      `SELECT ServiceName, ResourceAttributes, Attributes, toString(toUnixTimestamp64Nano(TimeUnix)) AS t,
              toString(Value) AS v FROM otel_metrics_gauge WHERE MetricName = '${metric}' ORDER BY TimeUnix`,
    );
    expect(rows).toEqual(
      [
        ['0.1', 0],
        ['-2.5e300', 1],
        ['nan', 2],
        ['inf', 3],
      ].map(([v, dt]) => ({
        ServiceName: 'checkout',
        ResourceAttributes: { 'service.name': 'checkout', 'service.instance.id': 'web-1:9100' },
        Attributes: { path: '/pay', z: 'ü' },
        t: `${t0 + Number(dt)}000000`,
        v,
      })),
    );

    await wait(
      async () =>
        (await db.scalar(`SELECT count() FROM otel_metrics_sum WHERE MetricName = '${metric}_total'`)) === 1,
      'the counter sample',
    );
    const [sum] = await db.rows<Record<string, unknown>>(
      `SELECT ServiceName, Attributes, Value, IsMonotonic, AggregationTemporality, MetricDescription
       FROM otel_metrics_sum WHERE MetricName = '${metric}_total'`,
    );
    expect(sum).toEqual({
      ServiceName: 'checkout',
      Attributes: { code: '200' },
      Value: 42,
      IsMonotonic: true,
      AggregationTemporality: 2,
      MetricDescription: 'Requests served.',
    });
  });

  it('keeps the valid series of a request and answers 400 naming the invalid ones', async () => {
    const metric = uid('rw_partial');
    const t = Date.now();
    const res = await post(
      body({
        timeseries: [
          { labels: labels({ job: 'x', a: '1' }), samples: [{ value: 1, timestamp: t }] },
          {
            labels: [...labels({ __name__: metric }), { name: 'a', value: '1' }, { name: 'a', value: '2' }],
            samples: [{ value: 2, timestamp: t }],
          },
          { labels: labels({ __name__: metric, ok: 'yes' }), samples: [{ value: 3, timestamp: t }] },
        ],
      }),
    );
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { error: string; message: string; details: { errors: string[] } };
    expect(answer.error).toBe('bad_request');
    expect(answer.message).toContain('2 of 3 series, 2 samples rejected, 1 accepted');
    expect(answer.details.errors).toEqual([
      'series {job="x", a="1"}: no __name__ label (the metric name)',
      `series {__name__="${metric}", a="1", a="2"}: duplicate label name "a"`,
    ]);
    await wait(
      async () =>
        (await db.scalar(`SELECT count() FROM otel_metrics_gauge WHERE MetricName = '${metric}'`)) === 1,
      'the valid series',
    );
    expect(await db.scalar(`SELECT Value FROM otel_metrics_gauge WHERE MetricName = '${metric}'`)).toBe(3);
  });

  it('answers 400 for a body that is not snappy or not a WriteRequest', async () => {
    const notSnappy = await post(Buffer.from('this is not snappy at all'));
    expect(notSnappy.status).toBe(400);
    expect(((await notSnappy.json()) as { message: string }).message).toMatch(/snappy/);

    // Field 1 (timeseries) announcing far more bytes than follow.
    const notProto = await post(compressSync(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])));
    expect(notProto.status).toBe(400);
    expect(((await notProto.json()) as { message: string }).message).toContain(
      'invalid protobuf prometheus.WriteRequest',
    );

    const empty = await post(Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { message: string }).message).toContain('empty body');

    // A snappy preamble claiming 1 GiB is refused before anything is inflated.
    const bomb = await post(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x04, 0x00]));
    expect(bomb.status).toBe(400);
    expect(((await bomb.json()) as { message: string }).message).toContain('more than the limit');
  });

  it('answers 415 for other content types and encodings (2.0 is in remote-write-v2.test.ts)', async () => {
    const ok = body({ timeseries: [] });
    const cases: Record<string, string>[] = [
      { 'content-type': 'application/json', 'content-encoding': 'snappy' },
      {
        'content-type': 'application/x-protobuf;proto=io.prometheus.write.v9.Request',
        'content-encoding': 'snappy',
      },
      { 'content-type': 'application/x-protobuf' },
      { 'content-type': 'application/x-protobuf', 'content-encoding': 'zstd' },
    ];
    for (const headers of cases) {
      const res = await post(ok, headers);
      expect(res.status, JSON.stringify(headers)).toBe(415);
      expect(((await res.json()) as { error: string }).error).toBe('unsupported_media_type');
    }
    expect(
      (await post(ok, { ...HEADERS, 'content-type': 'application/x-protobuf;proto=prometheus.WriteRequest' }))
        .status,
    ).toBe(204);
  });

  it('answers 503 when the bus does not take the samples', async () => {
    const config = configSchema.parse({ http: { addr: '127.0.0.1:0' } });
    const http = createHttpApp({ config });
    const bus = new MemoryBus();
    const source = new RemoteWriteSource(config.ingest.remoteWrite);
    await source.start({ config, bus, http, clickhouse: {} as ClickHouseClient, log: quiet });
    const server = await http.listen();
    try {
      await bus.close();
      const res = await post(
        body({ timeseries: [{ labels: labels({ __name__: 'x' }), samples: [{ value: 1, timestamp: 1 }] }] }),
        HEADERS,
        `http://${server.address}/api/v1/write`,
      );
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { message: string }).message).toContain('bus is closed');
    } finally {
      await source.stop();
      await server.close();
    }
  });
});

describe('ingest.remoteWrite configuration', () => {
  it('is on by default, can be turned off, and names a bad value', () => {
    const names = (input: object) => buildSources(configSchema.parse(input)).map((s) => s.name);
    expect(names({})).toContain('remote_write');
    expect(names({ ingest: { remoteWrite: { enabled: false } } })).not.toContain('remote_write');
    const dir = mkdtempSync(join(tmpdir(), 'opsight-rw-config-'));
    dirs.push(dir);
    const file = join(dir, 'opsight.yaml');
    writeFileSync(file, 'ingest:\n  remoteWrite:\n    maxDecodedBytes: -5\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(
      /ingest\.remoteWrite\.maxDecodedBytes = -5.*positive/,
    );
    writeFileSync(file, 'ingest:\n  remoteWrite:\n    enable: true\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/ingest\.remoteWrite.*enable/);
  });
});

describe('the WriteRequest reader', () => {
  it('decodes what protobufjs encodes, field for field', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const request = {
        // The first request holds 2,100 samples: the reader's sample arrays grow twice.
        timeseries: Array.from({ length: round === 0 ? 700 : rand(5) }, () => ({
          labels: Array.from({ length: rand(6) }, () => ({
            name: `n${rand(9)}ü`,
            value: `v${rand(1e6)}\u{1F600}`,
          })),
          samples: Array.from({ length: round === 0 ? 3 : rand(4) }, () => ({
            value: [rand(1e6) / 7, -rand(1e6), NaN, -Infinity][rand(4)],
            timestamp: rand(2 ** 30) * 1000 + rand(1000),
          })),
          exemplars: rand(2)
            ? [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: 5 }]
            : [],
        })),
        metadata: Array.from({ length: rand(3) }, () => ({
          type: rand(8),
          metricFamilyName: `f${rand(100)}`,
          help: `help ${rand(100)}`,
          unit: rand(2) ? 'seconds' : '',
        })),
      };
      const bytes = Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject(request)).finish());
      const got = decodeWriteRequest(compressSync(bytes), 1 << 20);
      const want = WriteRequestType.toObject(WriteRequestType.decode(bytes), {
        longs: Number,
        defaults: true,
      }) as {
        timeseries: { labels: unknown[]; samples: { value: number; timestamp: number }[] }[];
        metadata: unknown[];
      };
      expect(got.metadata).toEqual(want.metadata);
      expect(got.timeseries.map((ts) => labelsOf(got, ts))).toEqual(want.timeseries.map((ts) => ts.labels));
      const samples = (ts: (typeof got.timeseries)[number]) =>
        Array.from(got.values.subarray(ts.sampleStart, ts.sampleEnd), (v, i) => [
          v,
          got.timestamps[ts.sampleStart + i],
        ]);
      expect(got.timeseries.map(samples)).toEqual(
        want.timeseries.map((ts) => ts.samples.map((x) => [x.value, x.timestamp])),
      );
    }
  });
});

describe('samples packed per partition', () => {
  it('gives the same points as one record per sample, each pack keyed to its series partition', () => {
    const request = {
      timeseries: Array.from({ length: 3000 }, (_, i) => ({
        labels: labels({ __name__: `m_${i % 7}`, job: `j${i % 3}`, instance: `i-${i}`, cpu: String(i % 4) }),
        // Some series carry several samples, one a stale marker (dropped either way).
        samples: Array.from({ length: 1 + (i % 3) }, (_, k) => ({
          value: i % 11 === 5 && k === 1 ? staleNaN() : i + k / 4,
          timestamp: 1_700_000_000_000 + k * 15_000,
        })),
      })),
      metadata: [{ type: 1, metricFamilyName: 'm_1', help: 'h', unit: 's' }],
    };
    const raw = compressSync(
      Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject(request)).finish()),
    );
    const one = new RequestMapper().map(decodeWriteRequest(raw, 1 << 20));
    const packedMapper = new RequestMapper();
    // Twice: the second request finds every series in the mapper's cache.
    for (let round = 0; round < 2; round++) {
      const packed = packedMapper.map(decodeWriteRequest(raw, 1 << 20), 4);
      expect(packed.accepted).toBe(one.records.length);
      expect(packed.staleMarkers).toBe(one.staleMarkers);
      // At most MAX_PACK samples a message: a partition with more gets several.
      expect(packed.accepted).toBeGreaterThan(4 * MAX_PACK);
      expect(packed.records.length).toBeGreaterThan(4);
      expect(packed.records.length).toBeLessThanOrEqual(4 + Math.ceil(packed.accepted / MAX_PACK));
      const points: MetricPoint[] = [];
      for (const r of packed.records) {
        expect(isMetricSamples(r.value)).toBe(true);
        expect((r.value as MetricSamples).t.length).toBeLessThanOrEqual(MAX_PACK);
        const p = partitionFor(r.key!, 4);
        const here: MetricPoint[] = [];
        forEachMetricPoint(r.value, (point) => {
          // Every series of a pack lands where its own key would.
          expect(partitionFor(seriesKey(point), 4)).toBe(p);
          here.push(point);
        });
        // As Kafka carries it: JSON in the compact form (each head once), the same points.
        const wire = encodeValue(r.value)!.toString();
        const decoded = decodeValue(wire) as MetricSamples;
        expect(decoded.s).toHaveLength(here.length);
        expect(decoded.heads.length).toBeLessThan(here.length);
        const back: MetricPoint[] = [];
        forEachMetricPoint(decoded, (point) => back.push(point));
        expect(back).toEqual(JSON.parse(JSON.stringify(here)));
        points.push(...here);
      }
      const order = (a: MetricPoint, b: MetricPoint) =>
        `${seriesKey(a)}${JSON.stringify(a.resource)}`.localeCompare(
          `${seriesKey(b)}${JSON.stringify(b.resource)}`,
        ) || String(a.timeUnixNano).localeCompare(String(b.timeUnixNano));
      expect(points.sort(order)).toEqual(one.records.map((r) => r.value as MetricPoint).sort(order));
    }
  });
});

describe('the series cache', () => {
  /** A TimeSeries written by hand: labels and samples in the given field order. */
  function series(fields: ({ name: string; value: string } | number)[]): Uint8Array {
    const w = protobuf.Writer.create();
    for (const f of fields) {
      if (typeof f === 'number') {
        const s = protobuf.Writer.create().uint32(9).double(f).uint32(16).int64(1_700_000_000_000).finish();
        w.uint32(18).bytes(s);
      } else
        w.uint32(10).bytes(
          protobuf.Writer.create().uint32(10).string(f.name).uint32(18).string(f.value).finish(),
        );
    }
    return w.finish();
  }
  const request = (all: Uint8Array[]) => {
    const w = protobuf.Writer.create();
    for (const ts of all) w.uint32(10).bytes(ts);
    return compressSync(Buffer.from(w.finish()));
  };
  const l = (name: string, value: string) => ({ name, value });

  it('maps a series met again as the first time, told apart from one a byte away, labels split or not', () => {
    const a = [l('__name__', 'up'), l('job', 'node'), l('instance', 'h1:9100')];
    const b = [l('__name__', 'up'), l('job', 'node'), l('instance', 'h2:9100')]; // one byte away
    const first = request([series([...a, 1]), series([...b, 2]), series([a[0]!, 3, a[1]!, a[2]!])]);
    // The same series again, elsewhere in the body, the split one now contiguous and vice versa.
    const second = request([
      series([l('__name__', 'other'), 4]),
      series([...b, 5]),
      series([...a, 6]),
      series([b[0]!, 7, b[1]!, b[2]!]),
      series([...a.slice(0, 2), 8]),
    ]);
    const cached = new RequestMapper();
    for (const body of [first, second]) {
      const got = cached.map(decodeWriteRequest(body, 1 << 20));
      const fresh = new RequestMapper().map(decodeWriteRequest(body, 1 << 20));
      expect(got.accepted).toBe(fresh.accepted);
      expect(got.records.map((r) => r.value)).toEqual(fresh.records.map((r) => r.value));
    }
    const points = cached.map(decodeWriteRequest(second, 1 << 20)).records.map((r) => r.value as MetricPoint);
    expect(points.map((p) => [p.value, p.resource?.['service.instance.id'] ?? null, p.name])).toEqual([
      [4, null, 'other'],
      [5, 'h2:9100', 'up'],
      [6, 'h1:9100', 'up'],
      [7, 'h2:9100', 'up'],
      [8, null, 'up'],
    ]);
  });
});

describe('malformed payloads', () => {
  it('random and truncated bodies decode or fail with a DecodeError, never anything else', () => {
    // A deterministic generator: a failure reproduces.
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const request = {
      timeseries: Array.from({ length: 20 }, (_, i) => ({
        labels: labels({ __name__: `m_${i}`, job: 'j', instance: `i-${i}`, le: String(i) }),
        samples: [{ value: i, timestamp: 1_700_000_000_000 + i }],
      })),
      metadata: [{ type: 1, metricFamilyName: 'm_1', help: 'h', unit: 's' }],
    };
    const raw = Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject(request)).finish());
    const outcomes = { decoded: 0, refused: 0 };
    const attempt = (snappyBody: Buffer) => {
      try {
        const decoded = decodeWriteRequest(snappyBody, 1 << 20);
        new RequestMapper().map(decoded);
        outcomes.decoded++;
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        outcomes.refused++;
      }
    };
    for (let i = 0; i < 2000; i++) {
      // Truncated or bit-flipped protobuf inside valid snappy, and truncated or random snappy.
      const cut = raw.subarray(0, rand(raw.length));
      const flipped = Buffer.from(raw);
      const at = rand(raw.length);
      flipped[at] = flipped[at]! ^ (1 << rand(8));
      attempt(compressSync(cut));
      attempt(compressSync(flipped));
      const packed = compressSync(raw);
      attempt(packed.subarray(0, rand(packed.length)));
      attempt(Buffer.from(Array.from({ length: rand(64) + 1 }, () => rand(256))));
    }
    expect(outcomes.decoded + outcomes.refused).toBe(8000);
    expect(outcomes.refused).toBeGreaterThan(0);
    // The whole request still decodes to all of its points.
    const all = new RequestMapper().map(decodeWriteRequest(compressSync(raw), 1 << 20));
    expect(all.records).toHaveLength(20);
  });
});

describe('a real Prometheus remote-writing to opsight', () => {
  let prometheus: ChildProcess | undefined;
  let target: Server | undefined;
  let promLog = '';

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    target?.close();
  });

  it('lands scraped gauges, counters and histograms, and drops stale markers', async () => {
    // A prom-client endpoint for Prometheus to scrape.
    const registry = new Registry();
    new Gauge({
      name: 'rw_test_temperature',
      help: 'Room temperature.',
      labelNames: ['room'],
      registers: [registry],
    })
      .labels('lab')
      .set(21.5);
    new Counter({ name: 'rw_test_requests_total', help: 'Requests.', registers: [registry] }).inc(7);
    new Histogram({
      name: 'rw_test_latency_seconds',
      help: 'Latency.',
      buckets: [0.1, 1],
      registers: [registry],
    }).observe(0.5);
    target = createServer((_req, res) => {
      void registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
    });
    await new Promise<void>((r) => target!.listen(0, '127.0.0.1', r));
    const instance = `127.0.0.1:${(target.address() as AddressInfo).port}`;

    const dir = mkdtempSync(join(tmpdir(), 'opsight-prom-'));
    dirs.push(dir);
    // One shard keeps samples in scrape order, which the stale-marker check below relies on.
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: rw-target
    static_configs: [{ targets: ['${instance}'] }]
remote_write:
  - url: ${url}
    queue_config: { batch_send_deadline: 1s, min_shards: 1, max_shards: 1, min_backoff: 100ms, max_backoff: 1s }
    metadata_config: { send: true, send_interval: 1s }
`,
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        '--web.listen-address=127.0.0.1:0',
        '--storage.remote.flush-deadline=5s',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (b: Buffer) => (promLog = (promLog + b.toString()).slice(-4000)));
    const started = Date.now();
    const count = (table: string, where: string) =>
      db.scalar(
        `SELECT count() FROM ${table} WHERE ServiceName = 'rw-target'
           AND ResourceAttributes['service.instance.id'] = '${instance}' AND ${where}`,
      );
    const until = async (what: string, cond: () => Promise<boolean>) => {
      await wait(async () => {
        if (prometheus!.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
        return cond();
      }, what);
    };

    await until(
      'the scraped gauge',
      async () =>
        (await count(
          'otel_metrics_gauge',
          `MetricName = 'rw_test_temperature' AND Value = 21.5 AND Attributes['room'] = 'lab'`,
        )) > 0,
    );
    await until(
      'up = 1',
      async () => (await count('otel_metrics_gauge', `MetricName = 'up' AND Value = 1`)) > 0,
    );
    // Counters and histogram series become sums once Prometheus has sent their metadata.
    await until(
      'the counter as a monotonic sum',
      async () =>
        (await count(
          'otel_metrics_sum',
          `MetricName = 'rw_test_requests_total' AND Value = 7 AND IsMonotonic`,
        )) > 0,
    );
    await until(
      'histogram buckets as monotonic sums',
      async () =>
        (await count(
          'otel_metrics_sum',
          `MetricName = 'rw_test_latency_seconds_bucket' AND Attributes['le'] = '1' AND Value = 1 AND IsMonotonic`,
        )) > 0,
    );
    const [times] = await db.rows<{ lo: number; hi: number }>(
      `SELECT min(toUnixTimestamp64Milli(TimeUnix)) AS lo, max(toUnixTimestamp64Milli(TimeUnix)) AS hi
       FROM otel_metrics_gauge WHERE ServiceName = 'rw-target'`,
    );
    expect(times!.lo).toBeGreaterThanOrEqual(started - 1000);
    expect(times!.hi).toBeLessThanOrEqual(Date.now());

    // The gauge disappears from the target: Prometheus sends a stale marker for it, in order
    // before the next scrapes' samples of a new series.
    registry.removeSingleMetric('rw_test_temperature');
    new Gauge({ name: 'rw_test_sentinel', help: 'After the removal.', registers: [registry] }).set(1);
    await until(
      'two scrapes after the removal',
      async () => (await count('otel_metrics_gauge', `MetricName = 'rw_test_sentinel'`)) >= 2,
    );
    expect(await count('otel_metrics_gauge', `MetricName = 'rw_test_temperature' AND isNaN(Value)`)).toBe(0);

    const sources = (await (await fetch(`http://${rt.httpAddress}/api/v1/sources`)).json()) as {
      sources: { name: string; received: number; accepted: number }[];
    };
    const rw = sources.sources.find((s) => s.name === 'remote_write');
    expect(rw?.accepted).toBeGreaterThan(0);
  });
});
