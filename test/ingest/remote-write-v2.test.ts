import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryBus } from '../../core/bus/memory.ts';
import type { ClickHouseClient } from '../../core/clickhouse/client.ts';
import { configSchema } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { forEachMetricPoint, isMetricSamples } from '../../core/model/metric-samples.ts';
import type { MetricPoint } from '../../core/model/records.ts';
import { startRuntime, type Runtime } from '../../core/runtime.ts';
import { RemoteWriteSource } from '../../ingest/metrics/remote-write.ts';
import { DecodeError } from '../../ingest/metrics/prompb.ts';
import { RequestV2Type, decodeRequestV2, readRequestV2 } from '../../ingest/metrics/remote-write-v2-proto.ts';
import { InvalidRequestV2, RequestMapperV2 } from '../../ingest/metrics/remote-write-v2.ts';
import { seriesKey } from '../../ingest/keys.ts';
import { startIngestRole } from '../../ingest/role.ts';
import { quiet, testDatabase, uid, waitFor, type TestDatabase } from '../writer/support.ts';

/**
 * Remote-Write 2.0 on POST /api/v1/write in a running ingest role (in-process bus, the shared
 * ClickHouse), with requests built here from the io.prometheus.write.v2 proto.
 */

let db: TestDatabase;
let rt: Runtime;
let url: string;
const WAIT_MS = 60_000;
const wait = (cond: () => Promise<boolean>, what: string) => waitFor(cond, what, WAIT_MS);

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'rw2');
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
});

const V2 = {
  'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '2.0.0',
};

interface SeriesIn {
  /** In the order sent (the receiver checks the order). */
  labels: [string, string][];
  samples?: { value: number; timestamp: number }[];
  histograms?: object[];
  exemplars?: { labels: [string, string][]; value: number; timestamp: number }[];
  metadata?: { type: number; help?: string; unit?: string };
  createdTimestamp?: number;
}

/** Series with plain strings -> a Request with a symbols table, as a sender interns them. */
function request(series: SeriesIn[]): object {
  const symbols = [''];
  const index = new Map([['', 0]]);
  const ref = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = symbols.length;
      symbols.push(s);
      index.set(s, i);
    }
    return i;
  };
  const refs = (pairs: [string, string][]) => pairs.flatMap(([k, v]) => [ref(k), ref(v)]);
  const timeseries = series.map((s) => ({
    labelsRefs: refs(s.labels),
    samples: s.samples ?? [],
    histograms: s.histograms ?? [],
    exemplars: (s.exemplars ?? []).map((x) => ({
      labelsRefs: refs(x.labels),
      value: x.value,
      timestamp: x.timestamp,
    })),
    metadata: s.metadata
      ? {
          type: s.metadata.type,
          helpRef: s.metadata.help ? ref(s.metadata.help) : 0,
          unitRef: s.metadata.unit ? ref(s.metadata.unit) : 0,
        }
      : undefined,
    createdTimestamp: s.createdTimestamp ?? 0,
  }));
  return { symbols, timeseries };
}

const encode = (req: object) => Buffer.from(RequestV2Type.encode(RequestV2Type.fromObject(req)).finish());
const body = (req: object) => compressSync(encode(req));

function post(payload: Uint8Array, headers: Record<string, string> = V2, target = url) {
  return fetch(target, { method: 'POST', headers, body: payload });
}

function written(res: Response): [number, number, number] {
  return [
    Number(res.headers.get('x-prometheus-remote-write-samples-written')),
    Number(res.headers.get('x-prometheus-remote-write-histograms-written')),
    Number(res.headers.get('x-prometheus-remote-write-exemplars-written')),
  ];
}

/** Prometheus's stale marker, a NaN with payload 2. */
function staleNaN(): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, 0x7ff00000);
  v.setUint32(4, 2);
  return v.getFloat64(0);
}

const count = (table: string, metric: string) =>
  db.scalar(`SELECT count() FROM ${table} WHERE MetricName = '${metric}'`);

describe('remote_write 2.0 decoding', () => {
  it('reads back what the proto encodes, packed or not', () => {
    const req = request([
      {
        labels: [
          ['__name__', 'm'],
          ['job', 'j'],
        ],
        samples: [{ value: -1.5, timestamp: 1_700_000_000_123 }],
        histograms: [
          {
            countInt: 3,
            sum: 1,
            schema: -2,
            zeroCountInt: 1,
            positiveSpans: [{ offset: -3, length: 2 }],
            positiveDeltas: [1, 0],
            timestamp: 5,
          },
        ],
        metadata: { type: 1, help: 'h', unit: 'u' },
        createdTimestamp: 42,
      },
    ]);
    const decoded = readRequestV2(encode(req));
    expect(decoded.symbols).toEqual(['', '__name__', 'm', 'job', 'j', 'h', 'u']);
    const [ts] = decoded.timeseries;
    expect(ts).toMatchObject({
      labelsRefs: [1, 2, 3, 4],
      samples: [{ value: -1.5, timestamp: 1_700_000_000_123 }],
      type: 1,
      helpRef: 5,
      unitRef: 6,
      createdTimestamp: 42,
    });
    expect(ts!.histograms[0]).toMatchObject({
      isFloat: false,
      count: 3,
      schema: -2,
      zeroCount: 1,
      positiveSpans: [{ offset: -3, length: 2 }],
      positiveDeltas: [1, 0],
      timestamp: 5,
    });
    // labels_refs one per tag (unpacked), as proto3 readers must also accept: field 5 holding
    // field 1 twice as varints.
    const unpacked = Buffer.from([0x22, 0x00, 0x22, 0x01, 0x61, 0x2a, 0x04, 0x08, 0x01, 0x08, 0x00]);
    expect(readRequestV2(unpacked).timeseries[0]!.labelsRefs).toEqual([1, 0]);
  });

  it('packs float samples per partition into the same points as one record per sample', () => {
    const series = (round: number): SeriesIn[] =>
      Array.from({ length: 300 }, (_, i) => ({
        labels: [
          ['__name__', `m_${i % 5}`],
          ['cpu', String(i % 4)],
          ['instance', `i-${i}`],
          ['job', `j${i % 3}`],
        ],
        samples: Array.from({ length: 1 + (i % 3) }, (_, k) => ({
          value: i + k / 4,
          timestamp: 1_700_000_000_000 + round * 60_000 + k * 15_000,
        })),
        // Some series carry exemplars (kept as points), some change help between requests.
        exemplars:
          i % 7 === 0 ? [{ labels: [['trace_id', 'ab']], value: i, timestamp: 1_700_000_000_000 }] : [],
        metadata: { type: i % 2 ? 1 : 2, help: i % 10 === 0 ? `help ${round}` : 'h', unit: 's' },
        createdTimestamp: i % 2 ? 1_699_999_000_000 : 0,
      }));
    const packedMapper = new RequestMapperV2();
    for (let round = 0; round < 2; round++) {
      const raw = body(request(series(round)));
      const one = new RequestMapperV2().map(decodeRequestV2(raw, 1 << 20));
      const packed = packedMapper.map(decodeRequestV2(raw, 1 << 20), 4);
      expect([packed.samples, packed.exemplars, packed.rejected]).toEqual([one.samples, one.exemplars, 0]);
      expect(packed.records.some((r) => isMetricSamples(r.value))).toBe(true);
      const points: MetricPoint[] = [];
      for (const r of packed.records) forEachMetricPoint(r.value, (p) => points.push(p));
      const order = (a: MetricPoint, b: MetricPoint) =>
        `${seriesKey(a)}${JSON.stringify(a.resource)}`.localeCompare(
          `${seriesKey(b)}${JSON.stringify(b.resource)}`,
        ) || String(a.timeUnixNano).localeCompare(String(b.timeUnixNano));
      const plain = JSON.parse(JSON.stringify(one.records.map((r) => r.value as MetricPoint).sort(order)));
      expect(JSON.parse(JSON.stringify(points.sort(order)))).toEqual(plain);
    }
  });

  it('turns truncated and corrupted bodies into a DecodeError or a 400-class rejection, never a crash', () => {
    const valid = encode(
      request([
        {
          labels: [
            ['__name__', 'm'],
            ['job', 'j'],
          ],
          samples: [{ value: 1, timestamp: 1_700_000_000_000 }],
          histograms: [
            {
              countInt: 3,
              sum: 1,
              schema: 1,
              zeroCountInt: 1,
              positiveSpans: [{ offset: 0, length: 2 }],
              positiveDeltas: [1, 0],
              timestamp: 1_700_000_000_000,
            },
          ],
          exemplars: [{ labels: [['trace_id', 'ab']], value: 1, timestamp: 1_700_000_000_000 }],
          metadata: { type: 1, help: 'h' },
        },
      ]),
    );
    const mapper = new RequestMapperV2();
    const attempt = (raw: Buffer) => {
      try {
        mapper.map(decodeRequestV2(compressSync(raw), 1 << 20));
      } catch (err) {
        expect(err instanceof DecodeError || err instanceof InvalidRequestV2, String(err)).toBe(true);
      }
    };
    for (let cut = 0; cut < valid.length; cut++) attempt(valid.subarray(0, cut));
    // A fixed-seed generator: the same corruptions on every run.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const copy = Buffer.from(valid);
      for (let k = 0; k < 3; k++) copy[next() % copy.length] = next() % 256;
      attempt(copy);
    }
  });
});

describe('remote_write 2.0 requests built from the proto', () => {
  it('stores float series with metadata, created timestamps and exemplars; counts them in headers', async () => {
    const metric = uid('rw2_float');
    const t0 = Date.now() - 60_000;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await post(
      body(
        request([
          {
            labels: [
              ['__name__', `${metric}_total`],
              ['code', '200'],
              ['instance', 'web-1:9100'],
              ['job', 'checkout'],
            ],
            samples: [
              { value: 10, timestamp: t0 },
              { value: 12, timestamp: t0 + 1000 },
              // Stale markers are not written, nor counted as written.
              { value: staleNaN(), timestamp: t0 + 2000 },
            ],
            exemplars: [
              {
                labels: [
                  ['span_id', '00f067aa0ba902b7'],
                  ['trace_id', traceId],
                  ['user', 'u1'],
                ],
                value: 0.25,
                timestamp: t0 + 900,
              },
            ],
            metadata: { type: 1, help: 'Requests served.', unit: 'requests' },
            createdTimestamp: t0 - 5000,
          },
          {
            labels: [
              ['__name__', metric],
              ['job', 'checkout'],
            ],
            samples: [{ value: 0.5, timestamp: t0 }],
            metadata: { type: 2, help: 'A level.' },
          },
        ]),
      ),
    );
    expect(res.status).toBe(204);
    expect(written(res)).toEqual([3, 0, 1]);

    await wait(async () => (await count('otel_metrics_sum', `${metric}_total`)) === 2, 'the counter samples');
    const sums = await db.rows<Record<string, unknown>>(
      `SELECT ServiceName, ResourceAttributes, Attributes, Value, IsMonotonic, AggregationTemporality,
              MetricDescription, MetricUnit, toString(toUnixTimestamp64Milli(StartTimeUnix)) AS start
       FROM otel_metrics_sum WHERE MetricName = '${metric}_total' ORDER BY TimeUnix`,
    );
    const common = {
      ServiceName: 'checkout',
      ResourceAttributes: { 'service.name': 'checkout', 'service.instance.id': 'web-1:9100' },
      Attributes: { code: '200' },
      IsMonotonic: true,
      AggregationTemporality: 2,
      MetricDescription: 'Requests served.',
      MetricUnit: 'requests',
      start: String(t0 - 5000),
    };
    expect(sums).toEqual([
      { ...common, Value: 10 },
      { ...common, Value: 12 },
    ]);
    // The exemplar (t0 + 900) went to the first sample at or after its time (t0 + 1000).
    const ex = await db.rows<{ v: number[]; t: string[]; s: string[]; a: Record<string, string>[] }>(
      `SELECT Exemplars.Value AS v, Exemplars.TraceId AS t, Exemplars.SpanId AS s, Exemplars.FilteredAttributes AS a
       FROM otel_metrics_sum WHERE MetricName = '${metric}_total' ORDER BY TimeUnix`,
    );
    expect(ex).toEqual([
      { v: [], t: [], s: [], a: [] },
      { v: [0.25], t: [traceId], s: ['00f067aa0ba902b7'], a: [{ user: 'u1' }] },
    ]);

    await wait(async () => (await count('otel_metrics_gauge', metric)) === 1, 'the gauge sample');
    const [gauge] = await db.rows<Record<string, unknown>>(
      `SELECT Value, MetricDescription FROM otel_metrics_gauge WHERE MetricName = '${metric}'`,
    );
    expect(gauge).toEqual({ Value: 0.5, MetricDescription: 'A level.' });
  });

  it('stores native histograms (integer and float, both signs, zero bucket) as exponential histograms', async () => {
    const metric = uid('rw2_hist');
    const t0 = Date.now() - 60_000;
    const res = await post(
      body(
        request([
          {
            labels: [
              ['__name__', metric],
              ['kind', 'int'],
            ],
            metadata: { type: 3 },
            histograms: [
              {
                // Positive buckets 1, 2, (gap), 1, 3 from deltas; negative bucket 4; zero 2.
                countInt: 13,
                sum: 42.5,
                schema: 3,
                zeroThreshold: 1e-128,
                zeroCountInt: 2,
                positiveSpans: [
                  { offset: -2, length: 2 },
                  { offset: 1, length: 2 },
                ],
                positiveDeltas: [1, 1, -1, 2],
                negativeSpans: [{ offset: 0, length: 1 }],
                negativeDeltas: [4],
                resetHint: 2,
                timestamp: t0,
              },
            ],
            exemplars: [
              {
                labels: [
                  ['span_id', '00F067AA0BA902B7'],
                  ['trace_id', '4bf92f3577b34da6a3ce929d0e0e4736'],
                  ['user', 'u1'],
                ],
                value: 3.5,
                timestamp: t0,
              },
            ],
          },
          {
            labels: [
              ['__name__', metric],
              ['kind', 'float'],
            ],
            histograms: [
              { countFloat: 0, sum: staleNaN(), schema: 0, timestamp: t0 + 2 },
              {
                countFloat: 8,
                sum: -3,
                schema: -2,
                zeroCountFloat: 1,
                positiveSpans: [{ offset: 1, length: 3 }],
                positiveCounts: [5, 0, 2],
                resetHint: 3,
                timestamp: t0 + 1,
              },
            ],
          },
        ]),
      ),
    );
    expect(res.status).toBe(204);
    expect(written(res)).toEqual([0, 2, 1]);

    await wait(
      async () => (await count('otel_metrics_exponential_histogram', metric)) === 2,
      'the two native histograms',
    );
    const rows = await db.rows<Record<string, unknown>>(
      `SELECT Attributes['kind'] AS kind, Count, Sum, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts,
              NegativeOffset, NegativeBucketCounts, AggregationTemporality, Exemplars.Value AS xv,
              Exemplars.TraceId AS xt, Exemplars.SpanId AS xs, Exemplars.FilteredAttributes AS xa
       FROM otel_metrics_exponential_histogram WHERE MetricName = '${metric}' ORDER BY TimeUnix`,
    );
    expect(rows).toEqual([
      {
        kind: 'int',
        Count: 13,
        Sum: 42.5,
        Scale: 3,
        ZeroCount: 2,
        // Prometheus index -2 covers (b^-3, b^-2]: OTel index -3.
        PositiveOffset: -3,
        PositiveBucketCounts: [1, 2, 0, 1, 3],
        NegativeOffset: -1,
        NegativeBucketCounts: [4],
        AggregationTemporality: 2,
        xv: [3.5],
        xt: ['4bf92f3577b34da6a3ce929d0e0e4736'],
        xs: ['00f067aa0ba902b7'],
        xa: [{ user: 'u1' }],
      },
      {
        kind: 'float',
        Count: 8,
        Sum: -3,
        Scale: -2,
        ZeroCount: 1,
        PositiveOffset: 0,
        PositiveBucketCounts: [5, 0, 2],
        NegativeOffset: 0,
        NegativeBucketCounts: [],
        // Reset hint GAUGE: a gauge histogram, not a cumulative one.
        AggregationTemporality: 0,
        xv: [],
        xt: [],
        xs: [],
        xa: [],
      },
    ]);
  });

  const histogram = (over: object) => ({
    countInt: 3,
    sum: 1,
    schema: 0,
    positiveSpans: [{ offset: 0, length: 2 }],
    positiveDeltas: [1, 1],
    timestamp: Date.now() - 60_000,
    ...over,
  });

  const invalid: [string, (m: string) => SeriesIn, string][] = [
    [
      'an empty label name',
      (m) => ({
        labels: [
          ['__name__', m],
          ['', 'x'],
        ],
        samples: [{ value: 1, timestamp: Date.now() }],
      }),
      'a label with an empty name',
    ],
    [
      'unsorted labels',
      (m) => ({
        labels: [
          ['__name__', m],
          ['b', '1'],
          ['a', '2'],
        ],
        samples: [{ value: 1, timestamp: Date.now() }],
      }),
      'labels are not sorted by name ("a" after "b")',
    ],
    [
      'duplicate labels',
      (m) => ({
        labels: [
          ['__name__', m],
          ['a', '1'],
          ['a', '2'],
        ],
        samples: [{ value: 1, timestamp: Date.now() }],
      }),
      'duplicate label name "a"',
    ],
    [
      'no metric name',
      () => ({ labels: [['job', 'x']], samples: [{ value: 1, timestamp: Date.now() }] }),
      'no __name__ label (the metric name)',
    ],
    [
      'a histogram whose count does not add up',
      (m) => ({ labels: [['__name__', m]], histograms: [histogram({ countInt: 5 })] }),
      'histogram count 5 does not match its buckets (3 observations)',
    ],
    [
      'a histogram whose spans and deltas disagree',
      (m) => ({ labels: [['__name__', m]], histograms: [histogram({ positiveDeltas: [1, 1, 1] })] }),
      'positive buckets: spans cover 2 buckets but 3 counts are given',
    ],
    [
      'a histogram with a negative bucket count',
      (m) => ({
        labels: [['__name__', m]],
        histograms: [histogram({ countInt: 1, positiveDeltas: [2, -3] })],
      }),
      'positive buckets: bucket 1 has a negative count (-1)',
    ],
    [
      'buckets spread too widely to store densely',
      (m) => ({
        labels: [['__name__', m]],
        histograms: [
          histogram({
            positiveSpans: [
              { offset: 0, length: 1 },
              { offset: 2_000_000_000, length: 1 },
            ],
          }),
        ],
      }),
      'positive buckets: buckets spread over more than 16384 indexes',
    ],
    [
      'a schema outside -4..8',
      (m) => ({ labels: [['__name__', m]], histograms: [histogram({ schema: 9 })] }),
      'histogram schema 9 is outside -4..8',
    ],
  ];

  for (const [what, build, message] of invalid) {
    it(`answers 400 for ${what}, keeping and counting the valid series`, async () => {
      const metric = uid('rw2_bad');
      const good = uid('rw2_good');
      const res = await post(
        body(
          request([
            build(metric),
            { labels: [['__name__', good]], samples: [{ value: 7, timestamp: Date.now() - 60_000 }] },
          ]),
        ),
      );
      expect(res.status).toBe(400);
      expect(written(res)).toEqual([1, 0, 0]);
      const answer = (await res.json()) as { error: string; message: string; details: { errors: string[] } };
      expect(answer.error).toBe('bad_request');
      expect(answer.message).toContain('1 of 2 series');
      expect(answer.details.errors).toHaveLength(1);
      expect(answer.details.errors[0]).toContain(message);
      await wait(async () => (await count('otel_metrics_gauge', good)) === 1, 'the valid series');
    });
  }

  it('answers 400 for a symbol reference out of range, keeping the valid series', async () => {
    const good = uid('rw2_good');
    const req = request([
      { labels: [['__name__', good]], samples: [{ value: 1, timestamp: Date.now() - 60_000 }] },
    ]) as {
      symbols: string[];
      timeseries: object[];
    };
    req.timeseries.push({ labelsRefs: [1, 99], samples: [{ value: 1, timestamp: Date.now() }] });
    const res = await post(body(req));
    expect(res.status).toBe(400);
    expect(written(res)).toEqual([1, 0, 0]);
    expect(((await res.json()) as { message: string }).message).toContain(
      'labels_refs: symbol reference 99 is out of range (3 symbols)',
    );
    await wait(async () => (await count('otel_metrics_gauge', good)) === 1, 'the valid series');
  });

  it('answers 400 for a symbols table not starting with the empty string, and for a bad body', async () => {
    const res = await post(body({ symbols: ['x', '__name__'], timeseries: [] }));
    expect(res.status).toBe(400);
    expect(written(res)).toEqual([0, 0, 0]);
    expect(((await res.json()) as { message: string }).message).toContain(
      'symbols[0] must be the empty string',
    );

    const notProto = await post(compressSync(Buffer.from([0x2a, 0xff, 0xff, 0xff, 0x0f, 0x01])));
    expect(notProto.status).toBe(400);
    expect(((await notProto.json()) as { message: string }).message).toContain(
      'invalid protobuf io.prometheus.write.v2.Request',
    );
  });

  it('answers 415 for other content types and encodings, naming what is accepted', async () => {
    const ok = body(request([]));
    const cases: Record<string, string>[] = [
      { 'content-type': 'application/json', 'content-encoding': 'snappy' },
      {
        'content-type': 'application/x-protobuf;proto=io.prometheus.write.v3.Request',
        'content-encoding': 'snappy',
      },
      { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' },
      {
        'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
        'content-encoding': 'zstd',
      },
    ];
    for (const headers of cases) {
      const res = await post(ok, headers);
      expect(res.status, JSON.stringify(headers)).toBe(415);
      const answer = (await res.json()) as { error: string; message: string };
      expect(answer.error).toBe('unsupported_media_type');
      expect(answer.message).toMatch(/io\.prometheus\.write\.v2\.Request|snappy/);
    }
    const res = await post(ok);
    expect(res.status).toBe(204);
    expect(written(res)).toEqual([0, 0, 0]);
  });

  it('answers 503 with nothing counted as written when the bus does not take the samples', async () => {
    const config = configSchema.parse({ http: { addr: '127.0.0.1:0' } });
    const http = createHttpApp({ config });
    const bus = new MemoryBus();
    const source = new RemoteWriteSource(config.ingest.remoteWrite);
    await source.start({ config, bus, http, clickhouse: {} as ClickHouseClient, log: quiet });
    const server = await http.listen();
    try {
      await bus.close();
      const res = await post(
        body(request([{ labels: [['__name__', 'x']], samples: [{ value: 1, timestamp: 1 }] }])),
        V2,
        `http://${server.address}/api/v1/write`,
      );
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(written(res)).toEqual([0, 0, 0]);
    } finally {
      await source.stop();
      await server.close();
    }
  });
});
