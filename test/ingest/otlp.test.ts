import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeValue, jsonEncoder } from '../../core/bus/kafka.ts';
import { MemoryBus } from '../../core/bus/memory.ts';
import { configSchema } from '../../core/config/schema.ts';
import { createHttpApp } from '../../core/http/app.ts';
import { DecodeError, decodeRequest, type Signal } from '../../ingest/otlp/codec.ts';
import { convertLogs } from '../../ingest/otlp/logs.ts';
import { convertMetrics } from '../../ingest/otlp/metrics.ts';
import { OtlpReceiver } from '../../ingest/otlp/receiver.ts';
import { convertTraces } from '../../ingest/otlp/traces.ts';
import { logsMapping } from '../../ingest/writer/map-logs.ts';
import { metricsMapping } from '../../ingest/writer/map-metrics.ts';
import { tracesMapping } from '../../ingest/writer/map-traces.ts';
import { startWriter } from '../../ingest/writer/index.ts';
import { quiet, testDatabase, uid, waitFor, type TestDatabase } from '../writer/support.ts';

/**
 * The OTLP/HTTP receiver end to end: real OpenTelemetry SDK exporters (protobuf, one of them
 * gzip) and hand-written OTLP JSON against `opsight start --role ingest`, rows checked in
 * ClickHouse.
 */

const bin = join(process.cwd(), 'bin/opsight.js');
let db: TestDatabase;
let http: string;
const stops: (() => Promise<void>)[] = [];

/** `opsight start --role ingest` on the test database; returns its HTTP base URL. */
async function startOpsight(extraEnv: Record<string, string> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'opsight-otlp-'));
  // A small body limit, so a gzip bomb can be tried cheaply.
  writeFileSync(join(dir, 'opsight.yaml'), 'http:\n  bodyLimit: 256kb\n');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CLICKHOUSE_|KAFKA_|OPSIGHT_|OTEL_)/.test(k)) delete env[k];
  const child = spawn(process.execPath, [bin, 'start', '--role', 'ingest'], {
    cwd: dir,
    env: {
      ...env,
      OPSIGHT_LOG_LEVEL: 'warn',
      OPSIGHT_HTTP_ADDR: '127.0.0.1:0',
      CLICKHOUSE_URL: inject('clickhouseUrl'),
      CLICKHOUSE_DATABASE: db.database,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stops.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const banner = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out);
    });
    child.once('exit', (code) => reject(new Error(`opsight exited ${code}: ${stderr}`)));
  });
  return /HTTP on (http:\/\/[\d.:]+)/.exec(banner)![1]!;
}

beforeAll(async () => {
  db = await testDatabase(inject('clickhouseUrl'), 'otlp');
  http = await startOpsight();
}, 120_000);

afterAll(async () => {
  for (const stop of stops) await stop();
  await db?.drop();
});

const count = (sql: string) => db.scalar(`SELECT count() FROM ${sql}`);

async function waitForCount(sql: string, n: number): Promise<void> {
  await waitFor(async () => (await count(sql)) >= n, `${n} rows in ${sql}`);
  expect(await count(sql)).toBe(n);
}

const resource = resourceFromAttributes({
  'service.name': 'otlp-sdk-test',
  'deployment.environment.name': 'test',
  'host.cores': 2,
});

describe('OTLP/HTTP receiver', () => {
  it('stores metrics from the OpenTelemetry SDK protobuf exporter', async () => {
    const exporter = new OTLPMetricExporter({ url: `${http}/v1/metrics` });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource, readers: [reader] });
    const meter = provider.getMeter('otlp-test-meter', '1.2.3');
    const requests = meter.createCounter('sdk.requests', {
      unit: '{request}',
      description: 'requests served',
    });
    const duration = meter.createHistogram('sdk.duration', {
      unit: 'ms',
      advice: { explicitBucketBoundaries: [10, 100, 1000] },
    });
    const inflight = meter.createGauge('sdk.inflight');
    requests.add(3, { route: '/pay', method: 'POST' });
    requests.add(4, { route: '/cart', method: 'GET' });
    for (const ms of [5, 50, 60, 500, 5000]) duration.record(ms, { route: '/pay' });
    inflight.record(7.5, { pool: 'db' });
    // Shutdown collects and exports once (a forceFlush first would export the cumulative points twice).
    await provider.shutdown();

    const sum = `${db.database}.otel_metrics_sum WHERE MetricName = 'sdk.requests'`;
    await waitForCount(sum, 2);
    const sums = await db.rows<Record<string, unknown>>(
      `SELECT Value, Attributes, ServiceName, ResourceAttributes, AggregationTemporality, IsMonotonic, MetricUnit, MetricDescription, ScopeName, ScopeVersion FROM ${sum} ORDER BY Value`,
    );
    expect(sums[0]).toMatchObject({
      Value: 3,
      Attributes: { route: '/pay', method: 'POST' },
      ServiceName: 'otlp-sdk-test',
      AggregationTemporality: 2,
      IsMonotonic: true,
      MetricUnit: '{request}',
      MetricDescription: 'requests served',
      ScopeName: 'otlp-test-meter',
      ScopeVersion: '1.2.3',
    });
    expect(sums[0]!.ResourceAttributes).toMatchObject({
      'service.name': 'otlp-sdk-test',
      'deployment.environment.name': 'test',
      'host.cores': '2',
    });
    expect(sums[1]).toMatchObject({ Value: 4, Attributes: { route: '/cart', method: 'GET' } });

    const hist = `${db.database}.otel_metrics_histogram WHERE MetricName = 'sdk.duration'`;
    await waitForCount(hist, 1);
    const [h] = await db.rows<Record<string, unknown>>(
      `SELECT Count, Sum, BucketCounts, ExplicitBounds, Min, Max, Attributes, ServiceName FROM ${hist}`,
    );
    expect(h).toMatchObject({
      Count: 5,
      Sum: 5615,
      BucketCounts: [1, 2, 1, 1],
      ExplicitBounds: [10, 100, 1000],
      Min: 5,
      Max: 5000,
      Attributes: { route: '/pay' },
      ServiceName: 'otlp-sdk-test',
    });

    const gauge = `${db.database}.otel_metrics_gauge WHERE MetricName = 'sdk.inflight'`;
    await waitForCount(gauge, 1);
    expect(await db.scalar(`SELECT Value FROM ${gauge}`)).toBe(7.5);
  });

  it('stores logs from the OpenTelemetry SDK protobuf exporter', async () => {
    const exporter = new OTLPLogExporter({ url: `${http}/v1/logs` });
    const provider = new LoggerProvider({
      resource,
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger('otlp-test-logger', '0.9.0');
    const tracer = new BasicTracerProvider().getTracer('t');
    const span = tracer.startSpan('op');
    const ctx = trace.setSpan(context.active(), span);
    logger.emit({
      severityNumber: SeverityNumber.ERROR,
      severityText: 'ERROR',
      body: 'payment failed for order 42',
      attributes: { 'order.id': 42, retry: true, tags: ['a', 'b'] },
      context: ctx,
    });
    logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: { event: 'ok', n: 1 } });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();

    const logs = `${db.database}.otel_logs WHERE ServiceName = 'otlp-sdk-test'`;
    await waitForCount(logs, 2);
    const rows = await db.rows<Record<string, unknown>>(
      `SELECT SeverityNumber, SeverityText, Body, LogAttributes, TraceId, SpanId, ScopeName, ScopeVersion, ResourceAttributes FROM ${logs} ORDER BY SeverityNumber DESC`,
    );
    expect(rows[0]).toMatchObject({
      SeverityNumber: 17,
      SeverityText: 'ERROR',
      Body: 'payment failed for order 42',
      LogAttributes: { 'order.id': '42', retry: 'true', tags: '["a","b"]' },
      TraceId: span.spanContext().traceId,
      SpanId: span.spanContext().spanId,
      ScopeName: 'otlp-test-logger',
      ScopeVersion: '0.9.0',
    });
    expect(rows[0]!.ResourceAttributes).toMatchObject({ 'service.name': 'otlp-sdk-test' });
    expect(rows[1]).toMatchObject({ SeverityNumber: 9, Body: '{"event":"ok","n":1}', TraceId: '' });
  });

  it('stores traces from the OpenTelemetry SDK protobuf exporter, gzip-compressed', async () => {
    const exporter = new OTLPTraceExporter({
      url: `${http}/v1/traces`,
      compression: CompressionAlgorithm.GZIP,
    });
    const provider = new BasicTracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('otlp-test-tracer', '2.0.0');
    const root = tracer.startSpan('GET /checkout', {
      kind: SpanKind.SERVER,
      attributes: { 'http.method': 'GET', 'http.status_code': 500 },
    });
    const child = tracer.startSpan(
      'SELECT orders',
      { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } },
      trace.setSpan(context.active(), root),
    );
    child.addEvent('retry', { attempt: 2 });
    child.end();
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream failed' });
    root.end();
    await provider.forceFlush();
    await provider.shutdown();

    const traceId = root.spanContext().traceId;
    const spans = `${db.database}.otel_traces WHERE TraceId = '${traceId}'`;
    await waitForCount(spans, 2);
    const rows = await db.rows<Record<string, unknown>>(
      `SELECT SpanName, SpanKind, SpanId, ParentSpanId, ServiceName, SpanAttributes, StatusCode, StatusMessage, Duration > 0 AS positive, Events.Name AS EventNames, Events.Attributes AS EventAttributes, ScopeName, ResourceAttributes FROM ${spans} ORDER BY SpanName`,
    );
    expect(rows[0]).toMatchObject({
      SpanName: 'GET /checkout',
      SpanKind: 'Server',
      SpanId: root.spanContext().spanId,
      ParentSpanId: '',
      ServiceName: 'otlp-sdk-test',
      SpanAttributes: { 'http.method': 'GET', 'http.status_code': '500' },
      StatusCode: 'Error',
      StatusMessage: 'upstream failed',
      positive: 1,
      ScopeName: 'otlp-test-tracer',
    });
    expect(rows[1]).toMatchObject({
      SpanName: 'SELECT orders',
      SpanKind: 'Client',
      ParentSpanId: root.spanContext().spanId,
      StatusCode: 'Unset',
      EventNames: ['retry'],
      EventAttributes: [{ attempt: '2' }],
    });
    // The exporter's trace-id lookup table is fed too.
    await waitFor(
      async () => (await count(`${db.database}.otel_traces_trace_id_ts WHERE TraceId = '${traceId}'`)) > 0,
      'otel_traces_trace_id_ts',
    );
  });

  it('stores traces from the OpenTelemetry SDK JSON exporter', async () => {
    const exporter = new OTLPJsonTraceExporter({ url: `${http}/v1/traces` });
    const provider = new BasicTracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const span = provider.getTracer('json-tracer').startSpan('publish order', {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': 3 },
    });
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();

    const { traceId, spanId } = span.spanContext();
    const spans = `${db.database}.otel_traces WHERE TraceId = '${traceId}'`;
    await waitForCount(spans, 1);
    const [row] = await db.rows<Record<string, unknown>>(
      `SELECT SpanId, SpanName, SpanKind, StatusCode, SpanAttributes, ServiceName, ScopeName FROM ${spans}`,
    );
    expect(row).toEqual({
      SpanId: spanId,
      SpanName: 'publish order',
      SpanKind: 'Producer',
      StatusCode: 'Ok',
      SpanAttributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': '3' },
      ServiceName: 'otlp-sdk-test',
      ScopeName: 'json-tracer',
    });
  });

  const now = () => String(BigInt(Date.now()) * 1_000_000n);
  const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${http}${path}`, { method: 'POST', headers, body });

  it('takes OTLP JSON, gzip-compressed too (hex ids, int64 as strings, enum ints)', async () => {
    const request = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-svc' } }] },
          scopeLogs: [
            {
              scope: { name: 'json-scope' },
              logRecords: [
                {
                  timeUnixNano: now(),
                  severityNumber: 13,
                  severityText: 'WARN',
                  body: { stringValue: 'disk almost full' },
                  attributes: [
                    { key: 'disk', value: { stringValue: '/dev/sda1' } },
                    { key: 'used', value: { intValue: '9007199254740993' } },
                    { key: 'ratio', value: { doubleValue: 0.93 } },
                    {
                      key: 'labels',
                      value: { kvlistValue: { values: [{ key: 'team', value: { stringValue: 'infra' } }] } },
                    },
                  ],
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'eee19b7ec3c1b174',
                },
              ],
            },
          ],
        },
      ],
    };
    const plain = await post('/v1/logs', JSON.stringify(request), { 'content-type': 'application/json' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await plain.json()).toEqual({});
    const gz = await post('/v1/logs', gzipSync(JSON.stringify(request)), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(200);

    const logs = `${db.database}.otel_logs WHERE ServiceName = 'json-svc'`;
    await waitForCount(logs, 2);
    const [row] = await db.rows<Record<string, unknown>>(
      `SELECT SeverityNumber, Body, LogAttributes, TraceId, SpanId, ScopeName FROM ${logs} LIMIT 1`,
    );
    expect(row).toMatchObject({
      SeverityNumber: 13,
      Body: 'disk almost full',
      LogAttributes: {
        disk: '/dev/sda1',
        used: '9007199254740993',
        ratio: '0.93',
        labels: '{"team":"infra"}',
      },
      TraceId: '5b8efff798038103d269b633813fc60c',
      SpanId: 'eee19b7ec3c1b174',
      ScopeName: 'json-scope',
    });
  });

  it('answers partialSuccess for invalid data points and keeps the valid ones', async () => {
    const t = now();
    const request = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partial-svc' } }] },
          scopeMetrics: [
            {
              metrics: [
                { name: 'ok.gauge', gauge: { dataPoints: [{ timeUnixNano: t, asInt: '12' }] } },
                {
                  name: 'bad.histogram',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      {
                        timeUnixNano: t,
                        count: '3',
                        sum: 6,
                        bucketCounts: ['1', '2'],
                        explicitBounds: [1, 2],
                      },
                      {
                        timeUnixNano: t,
                        count: '3',
                        sum: 6,
                        bucketCounts: ['1', '1', '1'],
                        explicitBounds: [1, 2],
                      },
                    ],
                  },
                },
                {
                  name: 'ok.sum',
                  sum: {
                    aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA',
                    isMonotonic: false,
                    dataPoints: [{ timeUnixNano: t, asDouble: -1.5 }],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await post('/v1/metrics', JSON.stringify(request), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      partialSuccess: { rejectedDataPoints: string; errorMessage: string };
    };
    expect(body.partialSuccess.rejectedDataPoints).toBe('1');
    expect(body.partialSuccess.errorMessage).toBe(
      'metric "bad.histogram" point 0: 2 bucket counts for 2 explicit bounds (expected 3)',
    );

    await waitForCount(`${db.database}.otel_metrics_gauge WHERE ServiceName = 'partial-svc'`, 1);
    await waitForCount(`${db.database}.otel_metrics_histogram WHERE ServiceName = 'partial-svc'`, 1);
    await waitForCount(`${db.database}.otel_metrics_sum WHERE ServiceName = 'partial-svc'`, 1);
    expect(
      await db.scalar(
        `SELECT AggregationTemporality FROM ${db.database}.otel_metrics_sum WHERE ServiceName = 'partial-svc'`,
      ),
    ).toBe(1);

    const sources = (await (await fetch(`${http}/api/v1/sources`)).json()) as {
      sources: { name: string; rejected: number; lastError?: { message: string } }[];
    };
    const otlp = sources.sources.find((s) => s.name === 'otlp')!;
    expect(otlp.rejected).toBeGreaterThanOrEqual(1);
    expect(otlp.lastError?.message).toContain('bad.histogram');
  });

  it('stores exponential histograms from the OpenTelemetry SDK (ExponentialHistogram view)', async () => {
    const exporter = new OTLPMetricExporter({ url: `${http}/v1/metrics` });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource,
      readers: [reader],
      views: [
        {
          instrumentName: 'sdk.exp.latency',
          aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
        },
      ],
    });
    const latency = provider.getMeter('otlp-exp-meter').createHistogram('sdk.exp.latency', { unit: 'ms' });
    const values = [0, 1, 2, 4, 100];
    for (const v of values) latency.record(v, { route: '/exp' });
    await provider.shutdown();

    const table = `${db.database}.otel_metrics_exponential_histogram WHERE MetricName = 'sdk.exp.latency'`;
    await waitForCount(table, 1);
    const [row] = await db.rows<{
      Count: number;
      Sum: number;
      Scale: number;
      ZeroCount: number;
      PositiveOffset: number;
      PositiveBucketCounts: number[];
      NegativeOffset: number;
      NegativeBucketCounts: number[];
      Min: number;
      Max: number;
      AggregationTemporality: number;
      Attributes: Record<string, string>;
      ServiceName: string;
      MetricUnit: string;
    }>(
      `SELECT Count, Sum, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, NegativeOffset, NegativeBucketCounts,
              Min, Max, AggregationTemporality, Attributes, ServiceName, MetricUnit FROM ${table}`,
    );
    expect(row).toMatchObject({
      Count: 5,
      Sum: 107,
      ZeroCount: 1,
      Min: 0,
      Max: 100,
      AggregationTemporality: 2,
      Attributes: { route: '/exp' },
      ServiceName: 'otlp-sdk-test',
      MetricUnit: 'ms',
      NegativeBucketCounts: [],
    });
    // 160 buckets (the SDK's default) must span 1..100: scale 4 needs 108 (indexes -1..106),
    // scale 5 would need 214.
    expect(row!.Scale).toBe(4);
    // Every positive value sits in bucket ceil(log2(v) * 2^scale) - 1 (upper bounds inclusive).
    const expected = new Map<number, number>();
    for (const v of values.filter((x) => x > 0)) {
      const index = Math.ceil(Math.log2(v) * 2 ** row!.Scale) - 1;
      expected.set(index, (expected.get(index) ?? 0) + 1);
    }
    const stored = new Map<number, number>();
    row!.PositiveBucketCounts.forEach((c, k) => c > 0 && stored.set(row!.PositiveOffset + k, c));
    expect(stored).toEqual(expected);
  });

  const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
  const root = protobuf.loadSync(join(process.cwd(), 'ingest/otlp/proto/otlp.proto'));
  const metricsRequest = root.lookupType('opsight.otlp.ExportMetricsServiceRequest');
  const metricsResponse = root.lookupType('opsight.otlp.ExportMetricsServiceResponse');
  const metricsBody = (service: string, metrics: object[]) => ({
    resourceMetrics: [
      { resource: { attributes: [kv('service.name', service)] }, scopeMetrics: [{ metrics }] },
    ],
  });

  it('stores summaries from OTLP JSON and protobuf, quantiles in ValueAtQuantiles', async () => {
    const t = now();
    const summary = (name: string, count: number | string, quantiles: object[]) => ({
      name,
      unit: 's',
      summary: {
        dataPoints: [
          {
            timeUnixNano: t,
            startTimeUnixNano: t,
            count,
            sum: 12.5,
            quantileValues: quantiles,
            attributes: [kv('rpc', 'get')],
          },
        ],
      },
    });
    const json = await post(
      '/v1/metrics',
      JSON.stringify(
        metricsBody('summary-svc', [
          summary('rpc.json.latency', '10', [
            { quantile: 0.5, value: 0.9 },
            { quantile: 0.99, value: 'Infinity' },
            { quantile: 1, value: 4.5 },
          ]),
        ]),
      ),
      { 'content-type': 'application/json' },
    );
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({});

    const proto = Buffer.from(
      metricsRequest
        .encode(
          metricsRequest.fromObject(
            metricsBody('summary-svc', [
              summary('rpc.proto.latency', 4, [
                { quantile: 0, value: 0.1 },
                { quantile: 0.5, value: 0.25 },
              ]),
            ]),
          ),
        )
        .finish(),
    );
    const pb = await post('/v1/metrics', proto, { 'content-type': 'application/x-protobuf' });
    expect(pb.status).toBe(200);
    expect(metricsResponse.toObject(metricsResponse.decode(Buffer.from(await pb.arrayBuffer())))).toEqual({});

    const table = `${db.database}.otel_metrics_summary WHERE ServiceName = 'summary-svc'`;
    await waitForCount(table, 2);
    const rows = await db.rows<Record<string, unknown>>(
      `SELECT MetricName, Count, Sum, ValueAtQuantiles.Quantile AS q, arrayMap(v -> toString(v), ValueAtQuantiles.Value) AS v,
              Attributes, MetricUnit, StartTimeUnix = TimeUnix AS sameStart FROM ${table} ORDER BY MetricName`,
    );
    expect(rows).toEqual([
      {
        MetricName: 'rpc.json.latency',
        Count: 10,
        Sum: 12.5,
        q: [0.5, 0.99, 1],
        v: ['0.9', 'inf', '4.5'],
        Attributes: { rpc: 'get' },
        MetricUnit: 's',
        sameStart: 1,
      },
      {
        MetricName: 'rpc.proto.latency',
        Count: 4,
        Sum: 12.5,
        q: [0, 0.5],
        v: ['0.1', '0.25'],
        Attributes: { rpc: 'get' },
        MetricUnit: 's',
        sameStart: 1,
      },
    ]);
  });

  it('stores exponential histograms with negative buckets and exemplars from OTLP JSON', async () => {
    const t = now();
    const res = await post(
      '/v1/metrics',
      JSON.stringify(
        metricsBody('exp-json-svc', [
          {
            name: 'temperature.delta',
            exponentialHistogram: {
              aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA',
              dataPoints: [
                {
                  timeUnixNano: t,
                  count: '9',
                  sum: -3.5,
                  scale: -2,
                  zeroCount: '1',
                  zeroThreshold: 0.001,
                  positive: { offset: 3, bucketCounts: ['2', '0', '1'] },
                  negative: { offset: -1, bucketCounts: ['5'] },
                  min: -0.5,
                  max: 3000,
                  flags: 0,
                  exemplars: [
                    {
                      timeUnixNano: t,
                      asDouble: 2500,
                      traceId: '5b8efff798038103d269b633813fc60c',
                      spanId: 'eee19b7ec3c1b174',
                      filteredAttributes: [kv('user', 'u1')],
                    },
                  ],
                },
              ],
            },
          },
        ]),
      ),
      { 'content-type': 'application/json' },
    );
    expect(await res.json()).toEqual({});
    const table = `${db.database}.otel_metrics_exponential_histogram WHERE ServiceName = 'exp-json-svc'`;
    await waitForCount(table, 1);
    const [row] = await db.rows<Record<string, unknown>>(
      `SELECT Count, Sum, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, NegativeOffset, NegativeBucketCounts,
              Min, Max, Flags, AggregationTemporality, Exemplars.Value AS ev, Exemplars.TraceId AS et,
              Exemplars.SpanId AS es, Exemplars.FilteredAttributes AS ea FROM ${table}`,
    );
    expect(row).toEqual({
      Count: 9,
      Sum: -3.5,
      Scale: -2,
      ZeroCount: 1,
      PositiveOffset: 3,
      PositiveBucketCounts: [2, 0, 1],
      NegativeOffset: -1,
      NegativeBucketCounts: [5],
      Min: -0.5,
      Max: 3000,
      Flags: 0,
      AggregationTemporality: 1,
      ev: [2500],
      et: ['5b8efff798038103d269b633813fc60c'],
      es: ['eee19b7ec3c1b174'],
      ea: [{ user: 'u1' }],
    });
  });

  it('rejects invalid exponential histograms and summaries in partialSuccess, keeping the good points', async () => {
    const t = now();
    const point = (extra: object) => ({
      timeUnixNano: t,
      count: '3',
      sum: 6,
      scale: 0,
      zeroCount: '0',
      positive: { offset: 0, bucketCounts: ['1', '2'] },
      ...extra,
    });
    const body = metricsBody('exp-bad-svc', [
      {
        name: 'exp.mixed',
        exponentialHistogram: {
          aggregationTemporality: 2,
          dataPoints: [
            point({}),
            point({ positive: { offset: 0, bucketCounts: ['4', '-1'] } }),
            point({ scale: 21 }),
            point({ count: '4' }),
            point({ scale: -10, positive: { offset: 0, bucketCounts: ['3'] } }),
          ],
        },
      },
      {
        name: 'summary.mixed',
        summary: {
          dataPoints: [
            { timeUnixNano: t, count: '2', sum: 1, quantileValues: [{ quantile: 0.5, value: 0.4 }] },
            { timeUnixNano: t, count: '2', sum: 1, quantileValues: [{ quantile: 1.5, value: 0.4 }] },
          ],
        },
      },
    ]);
    const res = await post('/v1/metrics', JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as {
      partialSuccess: { rejectedDataPoints: string; errorMessage: string };
    };
    expect(answer.partialSuccess.rejectedDataPoints).toBe('4');
    expect(answer.partialSuccess.errorMessage).toBe(
      [
        'metric "exp.mixed" point 1: positive bucket count "-1" is not a uint64',
        'metric "exp.mixed" point 2: scale 21 is outside [-10, 20]',
        'metric "exp.mixed" point 3: zero count and bucket counts add up to 3, not to count 4',
        'metric "summary.mixed" point 1: quantile 1.5 is outside [0, 1]',
      ].join('; '),
    );

    // The same in protobuf: the answer's partialSuccess counts and names them too.
    const pbBody = metricsBody('exp-bad-pb-svc', [
      {
        name: 'exp.pb',
        exponentialHistogram: {
          aggregationTemporality: 2,
          dataPoints: [
            { ...point({}), count: 3, zeroCount: 0, positive: { offset: 0, bucketCounts: [1, 2] } },
            { ...point({}), count: 5, zeroCount: 0, positive: { offset: 0, bucketCounts: [1, 2] } },
          ],
        },
      },
    ]);
    const pb = await post(
      '/v1/metrics',
      Buffer.from(metricsRequest.encode(metricsRequest.fromObject(pbBody)).finish()),
      {
        'content-type': 'application/x-protobuf',
      },
    );
    expect(pb.status).toBe(200);
    const pbAnswer = metricsResponse.toObject(metricsResponse.decode(Buffer.from(await pb.arrayBuffer())), {
      longs: String,
    });
    expect(pbAnswer).toEqual({
      partialSuccess: {
        rejectedDataPoints: '1',
        errorMessage: 'metric "exp.pb" point 1: zero count and bucket counts add up to 3, not to count 5',
      },
    });

    await waitForCount(
      `${db.database}.otel_metrics_exponential_histogram WHERE ServiceName = 'exp-bad-svc'`,
      2,
    );
    await waitForCount(`${db.database}.otel_metrics_summary WHERE ServiceName = 'exp-bad-svc'`, 1);
    await waitForCount(
      `${db.database}.otel_metrics_exponential_histogram WHERE ServiceName = 'exp-bad-pb-svc'`,
      1,
    );
    expect(
      await db.rows(
        `SELECT Scale, PositiveBucketCounts FROM ${db.database}.otel_metrics_exponential_histogram
         WHERE ServiceName = 'exp-bad-svc' ORDER BY Scale`,
      ),
    ).toEqual([
      { Scale: -10, PositiveBucketCounts: [3] },
      { Scale: 0, PositiveBucketCounts: [1, 2] },
    ]);
  });

  it('refuses undecodable bodies with 400 and other content types with 415', async () => {
    const garbage = await post('/v1/traces', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), {
      'content-type': 'application/x-protobuf',
    });
    expect(garbage.status).toBe(400);
    expect(garbage.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    // A google.rpc.Status: field 1 code 3 (INVALID_ARGUMENT), field 2 the message.
    const status = Buffer.from(await garbage.arrayBuffer());
    expect(status.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x03]));
    expect(status.toString('latin1')).toContain('invalid protobuf ExportTraceServiceRequest');

    const badJson = await post('/v1/metrics', '{"resourceMetrics": ', { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message: string }).message).toMatch(/^invalid JSON/);

    const wrongShape = await post('/v1/logs', '{"resourceLogs": {}}', { 'content-type': 'application/json' });
    expect(wrongShape.status).toBe(400);
    expect(await wrongShape.json()).toEqual({ code: 3, message: 'resourceLogs must be an array' });

    const text = await post('/v1/logs', 'hello', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { message: string }).message).toContain('text/plain');

    // The body limit holds after decompression: 1 MB of JSON that gzips to a few kB.
    const bomb = gzipSync(JSON.stringify({ resourceLogs: [], pad: 'x'.repeat(1 << 20) }));
    expect(bomb.length).toBeLessThan(256 * 1024);
    const tooLarge = await post('/v1/logs', bomb, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { message: string }).message).toContain('after decompression');

    const badGzip = await post('/v1/logs', 'not gzip', {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(badGzip.status).toBe(400);
  });
});

describe('OTLP/HTTP receiver when the bus refuses', () => {
  it('answers 503 (retryable) with a google.rpc.Status', async () => {
    const config = configSchema.parse({ http: { addr: '127.0.0.1:0' } });
    const bus = new MemoryBus();
    const app = createHttpApp({ config });
    const receiver = new OtlpReceiver(config.ingest.otlp);
    await receiver.start({ config, bus, http: app, clickhouse: db.client, log: quiet });
    const server = await app.listen();
    try {
      // A closed bus refuses every publish, as an unreachable Kafka would.
      await bus.close();
      const request = {
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: '5b8efff798038103d269b633813fc60c',
                    spanId: 'eee19b7ec3c1b174',
                    name: 'op',
                    kind: 2,
                    startTimeUnixNano: '1790000000000000000',
                    endTimeUnixNano: '1790000000500000000',
                  },
                ],
              },
            ],
          },
        ],
      };
      const res = await fetch(`http://${server.address}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({
        code: 14,
        message: 'could not publish to opsight.traces: bus is closed',
      });
      expect(receiver.state()).toMatchObject({ received: 1, accepted: 0 });
    } finally {
      await receiver.stop();
      await server.close();
    }
  });
});

describe('OTLP exponential histograms and summaries in the Kafka encoding', () => {
  it('keep NaN, Infinity and int64 text through the Kafka JSON value codec into their tables', async () => {
    const t = String(BigInt(Date.now()) * 1_000_000n + 123n);
    const converted = convertMetrics(
      decodeRequest(
        'metrics',
        'json',
        Buffer.from(
          JSON.stringify({
            resourceMetrics: [
              {
                resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kafka-exp' } }] },
                scopeMetrics: [
                  {
                    metrics: [
                      {
                        name: 'k.exp',
                        exponentialHistogram: {
                          aggregationTemporality: 2,
                          dataPoints: [
                            {
                              timeUnixNano: t,
                              count: '3',
                              sum: 'NaN',
                              scale: 20,
                              zeroCount: '0',
                              positive: { offset: -1048576, bucketCounts: ['1', '2'] },
                              max: 'Infinity',
                              exemplars: [{ timeUnixNano: t, asInt: '-7' }],
                            },
                          ],
                        },
                      },
                      {
                        name: 'k.summary',
                        summary: {
                          dataPoints: [
                            {
                              timeUnixNano: t,
                              count: '9007199254740991',
                              sum: '-Infinity',
                              quantileValues: [{ quantile: 0.5, value: 'NaN' }],
                            },
                          ],
                        },
                      },
                    ],
                  },
                ],
              },
            ],
          }),
        ),
      ),
    );
    expect(converted.rejected.count).toBe(0);
    // Exactly what a Kafka consumer gets: the KafkaBus value codec (bigints as strings, markers
    // for NaN and ±Infinity), then the writer of the in-process bus.
    const encode = jsonEncoder();
    const wire = converted.items.map((item) => encode(item)!.toString('utf8'));
    expect(wire.join('\n')).toContain('"sum":"\\u0000NaN"');
    expect(wire.join('\n')).toContain('"value":"\\u0000NaN"');
    const delivered = wire.map((text) => decodeValue(text));
    const bus = new MemoryBus();
    const topic = `${uid('otlp')}.metrics`;
    await bus.publish(
      topic,
      delivered.map((value) => ({ key: null, value })),
    );
    const writer = await startWriter({
      bus,
      clickhouse: db.client,
      database: db.database,
      config: { maxRows: 1000, maxBytes: 1 << 20, maxAgeMs: 100, retryMaxDelayMs: 1000 },
      group: uid('otlp_writer'),
      mappings: [{ ...metricsMapping, topic }],
      log: quiet,
    });
    try {
      await waitForCount(
        `${db.database}.otel_metrics_exponential_histogram WHERE ServiceName = 'kafka-exp'`,
        1,
      );
      await waitForCount(`${db.database}.otel_metrics_summary WHERE ServiceName = 'kafka-exp'`, 1);
      expect(
        await db.rows(
          `SELECT toString(Sum) AS sum, toString(Max) AS max, Scale, PositiveOffset, PositiveBucketCounts,
                  toUnixTimestamp64Nano(TimeUnix) = ${t} AS exactTime, Exemplars.Value AS ev
           FROM ${db.database}.otel_metrics_exponential_histogram WHERE ServiceName = 'kafka-exp'`,
        ),
      ).toEqual([
        {
          sum: 'nan',
          max: 'inf',
          Scale: 20,
          PositiveOffset: -1048576,
          PositiveBucketCounts: [1, 2],
          exactTime: 1,
          ev: [-7],
        },
      ]);
      expect(
        await db.rows(
          `SELECT toString(Count) AS count, toString(Sum) AS sum, ValueAtQuantiles.Quantile AS q,
                  arrayMap(v -> toString(v), ValueAtQuantiles.Value) AS v
           FROM ${db.database}.otel_metrics_summary WHERE ServiceName = 'kafka-exp'`,
        ),
      ).toEqual([{ count: '9007199254740991', sum: '-inf', q: [0.5], v: ['nan'] }]);
    } finally {
      await writer.stop();
      await bus.close();
    }
  });
});

describe('OTLP decoding of random and truncated payloads', () => {
  const root = protobuf.loadSync(join(process.cwd(), 'ingest/otlp/proto/otlp.proto'));
  const encode = (type: string, body: object) => {
    const t = root.lookupType(`opsight.otlp.${type}`);
    return Buffer.from(t.encode(t.fromObject(body)).finish());
  };
  const kv = (key: string, value: object) => ({ key, value });
  const res = { attributes: [kv('service.name', { stringValue: 'fuzz' }), kv('n', { intValue: 7 })] };
  const t = '1790000000000000000';
  const valid: Record<Signal, Buffer> = {
    metrics: encode('ExportMetricsServiceRequest', {
      resourceMetrics: [
        {
          resource: res,
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'g',
                  gauge: {
                    dataPoints: [
                      { timeUnixNano: t, asDouble: 1.5, attributes: [kv('a', { boolValue: true })] },
                    ],
                  },
                },
                {
                  name: 's',
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: true,
                    dataPoints: [{ timeUnixNano: t, asInt: 3 }],
                  },
                },
                {
                  name: 'h',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      { timeUnixNano: t, count: 3, sum: 4, bucketCounts: [1, 2], explicitBounds: [1] },
                    ],
                  },
                },
                {
                  name: 'e',
                  exponentialHistogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      {
                        timeUnixNano: t,
                        count: 4,
                        sum: 5,
                        scale: 3,
                        zeroCount: 1,
                        positive: { offset: -2, bucketCounts: [1, 1] },
                        negative: { offset: 4, bucketCounts: [1] },
                        exemplars: [{ timeUnixNano: t, asInt: 2, spanId: Buffer.alloc(8, 3) }],
                      },
                    ],
                  },
                },
                {
                  name: 'q',
                  summary: {
                    dataPoints: [
                      { timeUnixNano: t, count: 2, sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }] },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    }),
    logs: encode('ExportLogsServiceRequest', {
      resourceLogs: [
        {
          resource: res,
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: t,
                  severityNumber: 9,
                  body: { arrayValue: { values: [{ stringValue: 'x' }, { doubleValue: 2 }] } },
                  traceId: Buffer.alloc(16, 1),
                  spanId: Buffer.alloc(8, 2),
                },
              ],
            },
          ],
        },
      ],
    }),
    traces: encode('ExportTraceServiceRequest', {
      resourceSpans: [
        {
          resource: res,
          scopeSpans: [
            {
              spans: [
                {
                  traceId: Buffer.alloc(16, 1),
                  spanId: Buffer.alloc(8, 2),
                  name: 'op',
                  kind: 2,
                  startTimeUnixNano: t,
                  endTimeUnixNano: '1790000000000000100',
                  events: [{ timeUnixNano: t, name: 'e' }],
                  status: { code: 2 },
                },
              ],
            },
          ],
        },
      ],
    }),
  };
  const convert = { metrics: convertMetrics, logs: convertLogs, traces: convertTraces };
  const mapping = { metrics: metricsMapping, logs: logsMapping, traces: tracesMapping };

  // Deterministic pseudo-random bytes, so a failure reproduces.
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;

  it.each(['metrics', 'logs', 'traces'] as const)(
    '%s: never throws, and what it keeps the writer can store',
    (signal) => {
      const good = convert[signal](decodeRequest(signal, 'protobuf', valid[signal]));
      expect(good.rejected.count).toBe(0);
      expect(good.items.length).toBe(signal === 'metrics' ? 5 : 1);
      const bodies: Buffer[] = [];
      for (let n = 0; n < valid[signal].length; n++) bodies.push(valid[signal].subarray(0, n));
      for (let i = 0; i < 3000; i++) {
        const b = Buffer.from(valid[signal]);
        for (let f = 0; f < 1 + Math.floor(rand() * 4); f++)
          b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        bodies.push(b);
        bodies.push(
          Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))),
        );
      }
      let decoded = 0;
      for (const body of bodies) {
        let request;
        try {
          request = decodeRequest(signal, 'protobuf', body);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
          continue;
        }
        decoded++;
        const { items, rejected, received } = convert[signal](request);
        expect(items.length + rejected.count).toBeLessThanOrEqual(Math.max(received, items.length));
        for (const item of items) expect(typeof mapping[signal].route(item)).toBe('number');
      }
      expect(decoded).toBeGreaterThan(0);
    },
  );
});
