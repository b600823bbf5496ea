import { createClient } from '@clickhouse/client';
import { pino } from 'pino';
import { KafkaBus } from '../../core/bus/kafka.ts';
import { startWriter } from '../../ingest/writer/index.ts';
import { testTopics } from './support.ts';

/**
 * The writer as a process of its own on Kafka, for the crash tests (kafka.test.ts): started with
 * `node --import tsx test/writer/writer-process.ts`, killed with SIGKILL, started again.
 *
 *   CLICKHOUSE_URL, WRITER_DATABASE, KAFKA_BROKERS, WRITER_TOPICS (the testTopics prefix),
 *   WRITER_GROUP, WRITER_MAX_ROWS, WRITER_CRASH_AFTER_INSERTS (SIGKILL itself right after that
 *   many inserts were acknowledged: after the insert, before the bus commit)
 */

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const crashAfter = Number(process.env.WRITER_CRASH_AFTER_INSERTS ?? 0);
let inserts = 0;
// Synchronous: the test reads these lines after a SIGKILL, which an async buffer would lose.
const log = pino({ level: 'info' }, pino.destination({ dest: 2, sync: true }));
const bus = new KafkaBus({
  brokers: env('KAFKA_BROKERS').split(','),
  logger: log.child({ component: 'bus.kafka' }),
});
const client = createClient({ url: env('CLICKHOUSE_URL'), database: env('WRITER_DATABASE') });
const writer = await startWriter({
  bus,
  clickhouse: client,
  database: env('WRITER_DATABASE'),
  config: {
    maxRows: Number(env('WRITER_MAX_ROWS')),
    maxBytes: 32 << 20,
    maxAgeMs: 100,
    retryMaxDelayMs: 1000,
  },
  group: env('WRITER_GROUP'),
  mappings: testTopics(env('WRITER_TOPICS')).mappings,
  log: log.child({ component: 'writer' }),
  events: {
    inserted() {
      if (++inserts === crashAfter) process.kill(process.pid, 'SIGKILL');
    },
  },
});
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  void writer
    .stop()
    .then(() => bus.close())
    .then(() => client.close())
    .then(() => process.exit(0));
});
