/**
 * Bus throughput: publish N metric-sized records in batches, then consume them in one group.
 * Prints msgs/s for each phase and the process's peak RSS. Kafka: KAFKA_BROKERS if set, else
 * a throwaway local broker (scripts/kafka/install.sh jars).
 *
 *   npx tsx bench/bus.ts [--n 200000] [--batch 5000] [--partitions 6]
 *                        [--bus memory,kafka,kafka-packed] [--compression none|gzip]
 *
 * `kafka` is one Kafka message a record (what the alert topics carry); `kafka-packed` packs a
 * publish's records per partition, as the ingest topics do. msgs/s counts records.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { KafkaBus } from '../core/bus/kafka.ts';
import { MemoryBus } from '../core/bus/memory.ts';
import type { Bus } from '../core/bus/types.ts';
import { startKafka, type KafkaBroker } from '../test/support/kafka.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '6' },
    bus: { type: 'string', default: 'memory,kafka,kafka-packed' },
    compression: { type: 'string', default: 'none' },
  },
});
const n = Number(values.n);
const batchSize = Number(values.batch);
const partitions = Number(values.partitions);
const compression = values.compression === 'gzip' ? 'gzip' : 'none';

/** A gauge point about the size of what the metrics sources publish (~300 bytes of JSON). */
function record(i: number) {
  const series = i % 5000;
  const key = `node_cpu_seconds_total|instance=host-${series % 200}|cpu=${series % 25}`;
  return {
    key,
    value: {
      name: 'node_cpu_seconds_total',
      type: 'sum',
      resource: { 'service.name': 'node-exporter', 'host.name': `host-${series % 200}` },
      attributes: { cpu: String(series % 25), mode: 'user' },
      timeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n,
      value: i * 0.25,
      temporality: 'cumulative',
      monotonic: true,
    },
  };
}

const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const rate = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString('en-US');

async function run(name: string, bus: Bus): Promise<void> {
  const topic = `bench-${Date.now().toString(36)}`;
  await bus.ensureTopics([{ name: topic, partitions }]);
  const batches = Array.from({ length: Math.ceil(n / batchSize) }, (_, b) =>
    Array.from({ length: Math.min(batchSize, n - b * batchSize) }, (_, j) => record(b * batchSize + j)),
  );
  let t = performance.now();
  for (const batch of batches) await bus.publish(topic, batch);
  const publishMs = performance.now() - t;

  let got = 0;
  let firstAt = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  t = performance.now();
  const sub = await bus.subscribe({
    group: `bench-${topic}`,
    topics: [topic],
    handler: async (batch) => {
      firstAt ||= performance.now();
      got += batch.messages.length;
      if (got >= n) done();
    },
  });
  await all;
  const end = performance.now();
  await sub.close();
  // Consumption is timed from the first batch; joining the group is reported on its own.
  console.log(
    `${name.padEnd(21)} publish ${rate(n, publishMs).padStart(9)} msgs/s   ` +
      `consume ${rate(n, end - firstAt).padStart(10)} msgs/s (group join ${Math.round(firstAt - t)} ms)   ` +
      `peak RSS ${rssMb()} MB`,
  );
}

const quiet = pino({ level: 'warn' });
const buses = values.bus.split(',');
if (buses.length > 1) {
  // One process per bus, so that one's heap and JIT state do not skew the other's figures.
  console.log(`${n} records of ~300 B, publish batches of ${batchSize}, ${partitions} partitions`);
  const self = fileURLToPath(import.meta.url);
  for (const which of buses) {
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--bus' && all[i - 1] !== '--bus');
    spawnSync(process.execPath, [...process.execArgv, self, ...args, '--bus', which], { stdio: 'inherit' });
  }
  process.exit(0);
}
for (const which of buses) {
  if (which === 'memory') {
    const bus = new MemoryBus({ defaultPartitions: partitions, highWater: n + 1 });
    await run('memory', bus);
    await bus.close();
  } else if (which === 'kafka' || which === 'kafka-packed') {
    let broker: KafkaBroker | undefined;
    const brokers = process.env.KAFKA_BROKERS?.split(',') ?? (broker = await startKafka()).brokers;
    try {
      const pack = which === 'kafka-packed';
      const bus = new KafkaBus({ brokers, compression, logger: quiet, pack: () => pack });
      await run(`${which} (${compression})`, bus);
      await bus.close();
    } finally {
      await broker?.stop();
    }
  }
}
