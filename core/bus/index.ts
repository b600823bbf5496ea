import type { Config } from '../config/schema.ts';
import { KafkaBus } from './kafka.ts';
import { MemoryBus } from './memory.ts';
import { ALL_TOPICS } from './topics.ts';
import type { Bus, TopicSpec } from './types.ts';

export type * from './types.ts';
export { KafkaBus } from './kafka.ts';
export { MemoryBus } from './memory.ts';
export { TOPICS, ALL_TOPICS } from './topics.ts';

/** Kafka when brokers are configured (KAFKA_BROKERS), the in-process bus otherwise. */
export function createBus(config: Config): Bus {
  const { brokers, clientId, connectTimeoutMs } = config.kafka;
  if (brokers.length > 0) return new KafkaBus({ brokers, clientId, connectTimeoutMs });
  return new MemoryBus({ defaultPartitions: config.kafka.partitions });
}

/** The five opsight topics as configured, for bus.ensureTopics() at start. */
export function topicSpecs(config: Config): TopicSpec[] {
  return ALL_TOPICS.map((name) => ({
    name,
    partitions: config.kafka.partitions,
    replicationFactor: config.kafka.replicationFactor,
  }));
}
