import { describe, expect, it } from 'vitest';
import { formatOf, parseExposition, parseValue } from '../../ingest/metrics/exposition.ts';
import {
  familiesToPoints,
  mergeLabels,
  msToNanos,
  type PointContext,
} from '../../ingest/metrics/prom-points.ts';

/** The exposition parser and the family -> MetricPoint mapping, on real-format samples. */

const ctx: PointContext = {
  scrapeTimeMs: 1_700_000_000_000,
  resource: { 'service.name': 'job1', 'service.instance.id': 'host:9100' },
  targetLabels: { job: 'job1', instance: 'host:9100' },
  honorLabels: false,
};

// The example from the Prometheus exposition format documentation, verbatim.
const PROM_DOC = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`;

// OpenMetrics 1.0: _total/_created, UNIT, exemplars, timestamps in seconds, info, stateset, # EOF.
const OPENMETRICS = `# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
# TYPE go_goroutines gauge
# HELP go_goroutines Number of goroutines that currently exist.
go_goroutines 69
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent in seconds.
process_cpu_seconds_total 4.20072246e+06
process_cpu_seconds_created 1605000000.5
# TYPE foo histogram
foo_bucket{le="0.0"} 0
foo_bucket{le="1e-05"} 0 # {trace_id="KOO5S4vxi0o"} 0.67
foo_bucket{le="0.1"} 8 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
foo_bucket{le="1.0"} 10 # {trace_id="hfmg9sbj0md"} 1.2
foo_bucket{le="+Inf"} 17
foo_count 17
foo_sum 324789.3
foo_created 1520430000.123
# TYPE build info
build_info{version="1.2.3"} 1.0
# TYPE door stateset
door{door="open"} 1.0
door{door="closed"} 0.0
# TYPE temp gauge
temp{room="a"} 21.5 1520879607.789
# EOF
`;

describe('parseExposition, text format 0.0.4', () => {
  it('parses the documentation example: types, escaping, timestamps, +Inf', () => {
    const e = parseExposition(PROM_DOC);
    expect(e.errors).toEqual([]);
    expect(e.sampleLines).toBe(20);
    const byName = Object.fromEntries(e.families.map((f) => [f.name, f]));
    expect(byName.http_requests_total!.type).toBe('counter');
    expect(byName.http_requests_total!.help).toBe('The total number of HTTP requests.');
    expect(byName.http_requests_total!.samples[1]).toMatchObject({
      labels: { method: 'post', code: '400' },
      value: 3,
      timestampMs: 1395066363000,
      line: 4,
    });
    expect(byName.msdos_file_access_time_seconds!.samples[0]!.labels).toEqual({
      path: 'C:\\DIR\\FILE.TXT',
      error: 'Cannot find file:\n"FILE.TXT"',
    });
    expect(byName.something_weird!.samples[0]).toMatchObject({ value: Infinity, timestampMs: -3982045 });
    expect(byName.http_request_duration_seconds!.samples).toHaveLength(8);
    expect(byName.rpc_duration_seconds!.type).toBe('summary');
  });

  it('maps counters to sums, histograms to per-bucket counts, summaries to gauges + sums', () => {
    const { points, errors } = familiesToPoints(parseExposition(PROM_DOC).families, ctx);
    // The sample before 1970 cannot be stored (DateTime64 from 1970): refused, with its line.
    expect(errors).toEqual([{ line: 13, message: 'negative timestamp for something_weird' }]);
    const counter = points.find((p) => p.name === 'http_requests_total')!;
    expect(counter).toMatchObject({
      type: 'sum',
      temporality: 'cumulative',
      monotonic: true,
      value: 1027,
      timeUnixNano: '1395066363000000000',
      description: 'The total number of HTTP requests.',
      attributes: { method: 'post', code: '200', job: 'job1', instance: 'host:9100' },
      resource: ctx.resource,
    });
    const hist = points.filter((p) => p.type === 'histogram');
    expect(hist).toHaveLength(1);
    expect(hist[0]).toMatchObject({
      name: 'http_request_duration_seconds',
      temporality: 'cumulative',
      timeUnixNano: msToNanos(ctx.scrapeTimeMs),
      attributes: { job: 'job1', instance: 'host:9100' },
      histogram: {
        count: 144320,
        sum: 53423,
        bounds: [0.05, 0.1, 0.2, 0.5, 1],
        counts: [24054, 9390, 66948, 28997, 4599, 10332],
      },
    });
    const quantiles = points.filter((p) => p.name === 'rpc_duration_seconds');
    expect(quantiles.map((p) => [p.type, p.attributes.quantile, p.value])).toEqual([
      ['gauge', '0.01', 3102],
      ['gauge', '0.05', 3272],
      ['gauge', '0.5', 4773],
      ['gauge', '0.9', 9001],
      ['gauge', '0.99', 76656],
    ]);
    expect(points.find((p) => p.name === 'rpc_duration_seconds_sum')).toMatchObject({
      type: 'sum',
      value: 1.7560473e7,
      monotonic: false,
    });
    expect(points.find((p) => p.name === 'rpc_duration_seconds_count')).toMatchObject({
      type: 'sum',
      value: 2693,
      monotonic: true,
    });
    expect(points.find((p) => p.name === 'metric_without_timestamp_and_labels')).toMatchObject({
      type: 'gauge',
      value: 12.47,
    });
  });

  it('reads NaN, +Inf, -Inf, exponents and signs; refuses hex and words', () => {
    const e = parseExposition(
      ['a NaN', 'b +Inf', 'c -Inf', 'd -1.5e-3', 'e +7', 'f Inf', 'g nan', 'h 0x10', 'i one', 'j 1_000'].join(
        '\n',
      ),
    );
    const v = Object.fromEntries(e.families.map((f) => [f.name, f.samples[0]!.value]));
    expect(v).toMatchObject({ b: Infinity, c: -Infinity, d: -0.0015, e: 7, f: Infinity });
    expect(Number.isNaN(v.a)).toBe(true);
    expect(Number.isNaN(v.g)).toBe(true);
    expect(e.errors.map((x) => x.line)).toEqual([8, 9, 10]);
    expect(e.errors[0]!.message).toBe('invalid value "0x10" for h');
    expect(parseValue('1e400')).toBe(Infinity);
  });

  it('keeps the good lines around bad ones, naming each bad line', () => {
    const text = [
      '# TYPE up gauge',
      'up 1',
      'up{job="a" 1',
      'up{job="a",job="b"} 1',
      'up{1abc="x"} 1',
      'up{job="a\\q"} 1',
      'up{job=a} 1',
      'up{job="x"}',
      'up{job="x"} 1 12.5',
      'up{job="x"} 1 5 extra',
      '# TYPE up counter',
      '# TYPE other bogus',
      '9up 1',
      'up{job="y"} 2',
    ].join('\n');
    const e = parseExposition(text);
    expect(e.families.find((f) => f.name === 'up')!.samples.map((s) => s.value)).toEqual([1, 2]);
    expect(e.errors).toEqual([
      { line: 3, message: 'expected , or } after the value of label job' },
      { line: 4, message: 'duplicate label job' },
      { line: 5, message: 'invalid label name at column 4 of up' },
      { line: 6, message: 'invalid escape \\q in a label value' },
      { line: 7, message: 'expected a quoted value for label job' },
      { line: 8, message: 'sample up without a value' },
      { line: 9, message: 'invalid timestamp "12.5" for up: integer milliseconds' },
      { line: 10, message: 'unexpected "extra" after the value of up' },
      { line: 11, message: 'TYPE for up after its samples or a second TYPE' },
      { line: 12, message: 'unknown metric type "bogus" for other' },
      { line: 13, message: 'expected a metric name, found "9"' },
    ]);
    expect(e.sampleLines).toBe(11);
  });

  it('accepts CRLF, tabs, leading spaces, trailing commas, spaces inside braces and quoted names', () => {
    const e = parseExposition(
      '  a{x="1",} 1\r\nb\t2\r\nc { x = "y" , z="w" } 3\n{"d.with.dots", code="200"} 4\n# just a comment\n',
    );
    expect(e.errors).toEqual([]);
    expect(e.families.map((f) => [f.name, f.samples[0]!.labels, f.samples[0]!.value])).toEqual([
      ['a', { x: '1' }, 1],
      ['b', {}, 2],
      ['c', { x: 'y', z: 'w' }, 3],
      ['d.with.dots', { code: '200' }, 4],
    ]);
  });

  it('histograms: missing +Inf uses _count; decreasing or missing buckets are refused per series', () => {
    const text = `# TYPE h histogram
h_bucket{s="a",le="1"} 2
h_bucket{s="a",le="2"} 5
h_count{s="a"} 7
h_sum{s="a"} 9.5
h_bucket{s="b",le="1"} 5
h_bucket{s="b",le="+Inf"} 3
h_bucket{s="c",le="1"} 1
h_bucket{s="d",le="x"} 1
h_bucket{s="d",le="+Inf"} 1
h_bucket{s="e",le="0.5"} 1 1000
h_bucket{s="e",le="+Inf"} 2 1000
h_bucket{s="e",le="0.5"} 2 2000
h_bucket{s="e",le="+Inf"} 4 2000
`;
    const { points, errors } = familiesToPoints(parseExposition(text).families, ctx);
    const by = (s: string) => points.filter((p) => p.attributes.s === s);
    expect(by('a')[0]!.histogram).toEqual({ count: 7, sum: 9.5, bounds: [1, 2], counts: [2, 3, 2] });
    expect(by('b')).toEqual([]);
    expect(by('c')).toEqual([]);
    expect(by('d')).toEqual([]);
    // One point per series and timestamp.
    expect(by('e').map((p) => [p.timeUnixNano, p.histogram!.counts])).toEqual([
      ['1000000000', [1, 1]],
      ['2000000000', [2, 2]],
    ]);
    expect(errors.map((e) => e.line)).toEqual([6, 7, 8, 9, 10]);
    expect(errors[0]!.message).toBe('histogram h: cumulative bucket counts decrease at line 7');
    expect(errors[2]!.message).toBe('histogram h series without a +Inf bucket or _count');
    expect(errors[3]!.message).toBe('bucket of h with invalid le "x" (line 9)');
  });
});

describe('parseExposition, OpenMetrics 1.0', () => {
  it('parses counters with _total/_created, UNIT, exemplars, info, stateset, seconds timestamps', () => {
    const e = parseExposition(OPENMETRICS, 'openmetrics');
    expect(e.errors).toEqual([]);
    const types = Object.fromEntries(e.families.map((f) => [f.name, f.type]));
    expect(types).toEqual({
      acme_http_router_request_seconds: 'summary',
      go_goroutines: 'gauge',
      process_cpu_seconds: 'counter',
      foo: 'histogram',
      build: 'info',
      door: 'stateset',
      temp: 'gauge',
    });
    const { points, errors } = familiesToPoints(e.families, ctx);
    expect(errors).toEqual([]);
    expect(points.find((p) => p.name === 'process_cpu_seconds_total')).toMatchObject({
      type: 'sum',
      unit: 'seconds',
      value: 4.20072246e6,
      startTimeUnixNano: '1605000000500000000',
    });
    expect(points.some((p) => p.name.endsWith('_created'))).toBe(false);
    expect(points.find((p) => p.name === 'foo')).toMatchObject({
      startTimeUnixNano: '1520430000123000000',
      histogram: { count: 17, sum: 324789.3, bounds: [0, 1e-5, 0.1, 1], counts: [0, 0, 8, 2, 7] },
    });
    expect(points.find((p) => p.name === 'acme_http_router_request_seconds_count')).toMatchObject({
      value: 807283,
      startTimeUnixNano: '1605281325000000000',
      attributes: { path: '/api/v1', method: 'GET' },
    });
    expect(points.find((p) => p.name === 'build_info')).toMatchObject({ type: 'gauge', value: 1 });
    expect(points.filter((p) => p.name === 'door').map((p) => p.value)).toEqual([1, 0]);
    expect(points.find((p) => p.name === 'temp')!.timeUnixNano).toBe('1520879607789000000');
  });

  it('flags a missing # EOF and content after it, keeping the samples', () => {
    const missing = parseExposition('# TYPE a gauge\na 1\n', 'openmetrics');
    expect(missing.families[0]!.samples).toHaveLength(1);
    expect(missing.errors).toEqual([{ line: 2, message: 'OpenMetrics exposition does not end with # EOF' }]);
    const after = parseExposition('a 1\n# EOF\nb 2\n', 'openmetrics');
    expect(after.families.map((f) => f.name)).toEqual(['a']);
    expect(after.errors).toEqual([{ line: 3, message: 'content after # EOF' }]);
  });

  it('picks the format from the Content-Type', () => {
    expect(formatOf('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(formatOf('text/plain; version=0.0.4; charset=utf-8')).toBe('prometheus');
    expect(formatOf(null)).toBe('prometheus');
  });
});

describe('labels', () => {
  it('honor_labels false moves clashing scraped labels to exported_*, true keeps them', () => {
    const target = { job: 'node', instance: 'h:1', env: 'prod' };
    expect(mergeLabels({ job: 'pushed', env: '', x: '1' }, target, false)).toEqual({
      job: 'node',
      exported_job: 'pushed',
      instance: 'h:1',
      env: 'prod',
      x: '1',
    });
    expect(mergeLabels({ job: 'pushed', exported_job: 'a' }, target, false)).toMatchObject({
      job: 'node',
      exported_job: 'a',
      exported_exported_job: 'pushed',
    });
    expect(mergeLabels({ job: 'pushed' }, target, true)).toEqual({
      job: 'pushed',
      instance: 'h:1',
      env: 'prod',
    });
  });

  it('converts millisecond timestamps to exact nanosecond strings', () => {
    expect(msToNanos(1_700_000_000_123)).toBe('1700000000123000000');
    expect(msToNanos(1520879607789.5)).toBe('1520879607789500000');
  });
});

describe('robustness', () => {
  // A deterministic PRNG so a failure reproduces.
  function rng(seed: number) {
    return () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
  }
  const ALPHABET = 'abc_:{}="\\, \n#+-.0123456789eEInfNa\tle\r';

  it('never throws on thousands of random and truncated payloads', () => {
    const rand = rng(42);
    const seeds = [PROM_DOC, OPENMETRICS];
    for (let n = 0; n < 3000; n++) {
      let text: string;
      const base = seeds[n % 2]!;
      if (n % 3 === 0) text = base.slice(0, Math.floor(rand() * base.length));
      else if (n % 3 === 1) {
        const chars = [...base];
        for (let k = 0; k < 5; k++)
          chars[Math.floor(rand() * chars.length)] = ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
        text = chars.join('');
      } else
        text = Array.from(
          { length: Math.floor(rand() * 200) },
          () => ALPHABET[Math.floor(rand() * ALPHABET.length)],
        ).join('');
      for (const format of ['prometheus', 'openmetrics'] as const) {
        const e = parseExposition(text, format);
        const conv = familiesToPoints(e.families, ctx);
        const samples = e.families.reduce((s, f) => s + f.samples.length, 0);
        // Every sample line is kept or reported; every kept sample lands in a point or is reported.
        expect(samples).toBeLessThanOrEqual(e.sampleLines);
        expect(e.sampleLines).toBeLessThanOrEqual(samples + e.errors.length);
        expect(conv.accepted + conv.errors.length).toBe(samples);
      }
    }
  });

  it('loses no good sample among garbage lines', () => {
    const rand = rng(7);
    const good: string[] = [];
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const line = `good_metric{i="${i}"} ${i}`;
      good.push(line);
      lines.push(line);
      if (rand() < 0.5) lines.push(`bad{i="${i}" ${'{}="='[Math.floor(rand() * 5)]}`);
    }
    const e = parseExposition(lines.join('\n'));
    const kept = e.families.find((f) => f.name === 'good_metric')!.samples;
    expect(kept.map((s) => s.value)).toEqual(good.map((_, i) => i));
    expect(e.errors.length).toBe(lines.length - good.length);
  });
});
