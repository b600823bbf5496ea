/**
 * The remote_write receiver's CPU path without HTTP or ClickHouse: snappy, the WriteRequest
 * reader, the series cache and packing into MetricSamples (RequestMapper.map), over the
 * requests of bench/ingest/sources.ts's workload. Beside it, in the same run: snappy and
 * protobufjs's generated decoder alone (objects for every label and sample, nothing mapped).
 *
 *   npx tsx bench/ingest/remote-write-decode.ts [--samples 400000] [--series 10000] [--rounds 5]
 *
 * The first round fills the series cache (as a receiver's first scrape does); the figures are
 * the rounds after it.
 */
import { parseArgs } from 'node:util';
import { uncompressSync } from 'snappy';
import { decodeWriteRequest, WriteRequestType } from '../../ingest/metrics/prompb.ts';
import { RequestMapper } from '../../ingest/metrics/remote-write.ts';
import { remoteWriteBodies } from './sources.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '400000' },
    series: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
  },
});
const samples = Number(values.samples);
const rounds = Number(values.rounds);
const bodies = remoteWriteBodies(samples, Number(values.series));

interface Figures {
  usPerSample: number;
  p50: number;
  p99: number;
  heapMb: number;
}

function measure(decode: (body: Buffer) => void): Figures {
  for (const b of bodies) decode(b); // warm-up round: JIT, series cache
  const perRequest: number[] = [];
  let heap = 0;
  const t0 = performance.now();
  for (let r = 1; r < rounds; r++) {
    for (const b of bodies) {
      const t = performance.now();
      decode(b);
      perRequest.push(performance.now() - t);
    }
    heap = Math.max(heap, process.memoryUsage().heapUsed);
  }
  const ms = performance.now() - t0;
  perRequest.sort((a, b) => a - b);
  const q = (p: number) => perRequest[Math.min(perRequest.length - 1, Math.floor(p * perRequest.length))]!;
  return {
    usPerSample: (ms * 1000) / (samples * (rounds - 1)),
    p50: q(0.5),
    p99: q(0.99),
    heapMb: heap / 1e6,
  };
}

const mapper = new RequestMapper();
let accepted = 0;
const opsight = measure((b) => {
  accepted += mapper.map(decodeWriteRequest(b, 64 << 20), 1).accepted;
});
if (accepted !== samples * rounds)
  throw new Error(`mapped ${accepted} samples, expected ${samples * rounds}`);
const generic = measure((b) => {
  WriteRequestType.decode(uncompressSync(b, { asBuffer: true }) as Buffer);
});

const row = (name: string, f: Figures) =>
  `| ${name} | ${f.usPerSample.toFixed(2)} | ${Math.round(1e6 / f.usPerSample).toLocaleString('en-US')} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.heapMb.toFixed(0)} |`;
console.log(
  `\nremote_write decode: ${samples.toLocaleString('en-US')} samples in ${bodies.length} requests, ${values.series} series, ${rounds - 1} timed rounds\n`,
);
console.log('| path | µs/sample | samples/s | p50 ms/request | p99 ms/request | heap MB |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
console.log(row('opsight: snappy + reader + series cache + packing', opsight));
console.log(row('snappy + protobufjs decode (objects, not mapped)', generic));
console.log(
  `\nratio (protobufjs decode alone ÷ opsight's whole path): ${(generic.usPerSample / opsight.usPerSample).toFixed(2)}`,
);
