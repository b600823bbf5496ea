/**
 * remote_write ingest, end to end: snappy+protobuf WriteRequests POSTed to /api/v1/write of an
 * in-process ingest role (in-process bus, writer) until every sample is a row in ClickHouse,
 * beside the decode alone and ClickHouse's own bulk insert of the same rows in the same run.
 *
 *   OPSIGHT_LOG_LEVEL=warn npx tsx bench/ingest-remote-write.ts [--samples 1000000]
 *       [--per-request 2000] [--senders 4]
 *
 * ClickHouse: CLICKHOUSE_URL, else an embedded server in a temp directory; a fresh database
 * that is dropped at the end. Requests are built and compressed before the clock starts, as a
 * sender's WAL reader would have them; each holds `--per-request` series of one sample
 * (Prometheus's max_samples_per_send default), senders are concurrent like its shards.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { compressSync } from 'snappy';
import { startEmbedded, type EmbeddedClickHouse } from '../core/clickhouse/embedded.ts';
import { configSchema } from '../core/config/schema.ts';
import { startRuntime } from '../core/runtime.ts';
import { RequestMapper } from '../ingest/metrics/remote-write.ts';
import { WriteRequestType, decodeWriteRequest } from '../ingest/metrics/prompb.ts';
import { startIngestRole } from '../ingest/role.ts';

const { values: args } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000000' },
    'per-request': { type: 'string', default: '2000' },
    senders: { type: 'string', default: '4' },
  },
});
const SAMPLES = Number(args.samples);
const PER_REQUEST = Number(args['per-request']);
const SENDERS = Number(args.senders);
const SERIES = 10_000;

/** Request r: series (r * PER_REQUEST + j) % SERIES, labelled like a node_exporter target. */
function buildRequests(): Buffer[] {
  const out: Buffer[] = [];
  const t0 = Date.now() - 3_600_000;
  for (let first = 0; first < SAMPLES; first += PER_REQUEST) {
    const timeseries = [];
    for (let i = first; i < Math.min(SAMPLES, first + PER_REQUEST); i++) {
      const s = i % SERIES;
      timeseries.push({
        labels: [
          { name: '__name__', value: `node_metric_${s % 50}` },
          { name: 'cpu', value: String(s % 16) },
          { name: 'instance', value: `host-${s % 200}:9100` },
          { name: 'job', value: `job-${s % 5}` },
          { name: 'mode', value: ['idle', 'user', 'system', 'iowait'][s % 4]! },
        ],
        samples: [{ value: i * 0.25, timestamp: t0 + Math.floor(i / SERIES) * 1000 }],
      });
    }
    out.push(
      compressSync(
        Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries })).finish()),
      ),
    );
  }
  return out;
}

const rate = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsight-bench-rw-'));
  let embedded: EmbeddedClickHouse | undefined;
  const url = process.env.CLICKHOUSE_URL ?? (embedded = await startEmbedded({ dataDir: dir })).url;
  const database = `bench_rw_${Date.now().toString(36)}`;
  const client = createClient({ url, database });
  try {
    const requests = buildRequests();
    const bytes = requests.reduce((a, r) => a + r.length, 0);
    console.log(
      `${SAMPLES.toLocaleString('en-US')} samples in ${requests.length} requests ` +
        `(${(bytes / requests.length / 1024).toFixed(1)} KiB snappy each), ${SENDERS} senders`,
    );

    // 1. decode alone: snappy + protobuf + mapping to metric points.
    let t = performance.now();
    const mapper = new RequestMapper();
    let mapped = 0;
    for (const r of requests) mapped += mapper.map(decodeWriteRequest(r, 64 << 20)).records.length;
    const decodeSeconds = (performance.now() - t) / 1000;

    // 2. end to end: HTTP -> decode -> in-process bus -> writer -> ClickHouse.
    const config = configSchema.parse({
      clickhouse: { url, database },
      http: { addr: '127.0.0.1:0' },
    });
    const rt = await startRuntime(config, { ingest: startIngestRole }, ['ingest']);
    const endpoint = `http://${rt.httpAddress}/api/v1/write`;
    const count = async () =>
      Number(
        await (await client.query({ query: 'SELECT count() FROM otel_metrics_gauge', format: 'CSV' })).text(),
      );
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        while (next < requests.length) {
          const body = requests[next++]!;
          const res = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
            body,
          });
          if (res.status !== 204) throw new Error(`remote_write answered ${res.status}: ${await res.text()}`);
        }
      }),
    );
    const acceptedSeconds = (performance.now() - t) / 1000;
    while ((await count()) < SAMPLES) await new Promise((r) => setTimeout(r, 20));
    const e2eSeconds = (performance.now() - t) / 1000;
    const rss = rssMb();
    await rt.stop();
    const rows = await count();

    // 3. ClickHouse's own bulk insert of the same rows: exported as Native, POSTed back by curl.
    const file = join(dir, 'rows.native');
    const exported = await fetch(
      `${url}/?database=${database}&query=${encodeURIComponent('SELECT * FROM otel_metrics_gauge FORMAT Native')}`,
    );
    await pipeline(Readable.fromWeb(exported.body as never), createWriteStream(file));
    await client.command({ query: 'TRUNCATE TABLE otel_metrics_gauge' });
    const insert = `${url}/?database=${database}&query=${encodeURIComponent('INSERT INTO otel_metrics_gauge FORMAT Native')}`;
    t = performance.now();
    await new Promise<void>((resolve, reject) => {
      const curl = spawn('curl', ['-sS', '--fail-with-body', '--data-binary', `@${file}`, insert], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      curl.once('error', reject);
      curl.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl exited with ${code}`))));
    });
    const bulkSeconds = (performance.now() - t) / 1000;

    const e2e = SAMPLES / e2eSeconds;
    const bulk = rows / bulkSeconds;
    console.log(`
| what | samples/s | x bulk | seconds |
| --- | ---: | ---: | ---: |
| decode only (snappy + protobuf + mapping), ${mapped.toLocaleString('en-US')} points | ${rate(mapped, decodeSeconds)} | ${(mapped / decodeSeconds / bulk).toFixed(2)} | ${decodeSeconds.toFixed(2)} |
| remote_write accepted (204s, published to the bus) | ${rate(SAMPLES, acceptedSeconds)} | ${(SAMPLES / acceptedSeconds / bulk).toFixed(2)} | ${acceptedSeconds.toFixed(2)} |
| remote_write end to end, rows in ClickHouse (${rows.toLocaleString('en-US')}) | ${rate(SAMPLES, e2eSeconds)} | ${(e2e / bulk).toFixed(2)} | ${e2eSeconds.toFixed(2)} |
| ClickHouse bulk insert, Native by curl (${(statSync(file).size / 1e6).toFixed(0)} MB) | ${rate(rows, bulkSeconds)} | 1.00 | ${bulkSeconds.toFixed(2)} |

peak RSS of the bench process (opsight + sender): ${rss} MB`);
    if (rows !== SAMPLES) throw new Error(`expected ${SAMPLES} rows, found ${rows}`);
  } finally {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await client.close();
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
