import type { Config } from '../config/schema.ts';
import { KafkaBus } from './kafka.ts';
import { DEFAULT_HIGH_WATER, MemoryBus } from './memory.ts';
import { ALL_TOPICS } from './topics.ts';
import type { Bus, TopicSpec } from './types.ts';

export type * from './types.ts';
export { KafkaBus } from './kafka.ts';
export { MemoryBus } from './memory.ts';
export { TOPICS, ALL_TOPICS } from './topics.ts';

/**
 * Partitions of each in-process topic. One process gains no parallelism from more, and each
 * partition is a ClickHouse batch of its own: six partitions made six times smaller inserts,
 * which cost ClickHouse 2-3x more CPU per row (parts, merges; see README "Benchmarks").
 */
export const MEMORY_PARTITIONS = 1;

/** Kafka when brokers are configured (KAFKA_BROKERS), the in-process bus otherwise. */
export function createBus(config: Config): Bus {
  const { brokers, clientId, connectTimeoutMs } = config.kafka;
  if (brokers.length > 0) return new KafkaBus({ brokers, clientId, connectTimeoutMs });
  // Two writer batches may wait: one being inserted while the next one fills. Any less and
  // the writer's linger (clamped to half of it) could never gather a whole batch.
  const highWater = Math.max(DEFAULT_HIGH_WATER, 2 * config.writer.maxRows);
  return new MemoryBus({ defaultPartitions: MEMORY_PARTITIONS, highWater });
}

/** The opsight topics as configured (kafka.partitions is Kafka's), for bus.ensureTopics() at start. */
export function topicSpecs(config: Config): TopicSpec[] {
  const kafka = config.kafka.brokers.length > 0;
  return ALL_TOPICS.map((name) => ({
    name,
    partitions: kafka ? config.kafka.partitions : MEMORY_PARTITIONS,
    replicationFactor: config.kafka.replicationFactor,
  }));
}
