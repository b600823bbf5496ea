import type { Config } from '../config/schema.ts';
import { KafkaBus } from './kafka.ts';
import { MemoryBus } from './memory.ts';
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
  return new MemoryBus({ defaultPartitions: MEMORY_PARTITIONS });
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
