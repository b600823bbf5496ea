/** The bus topics and what travels on each. */
export const TOPICS = {
  metrics: 'opsight.metrics',
  logs: 'opsight.logs',
  billing: 'opsight.billing',
  traces: 'opsight.traces',
  alerts: 'opsight.alerts',
  incidents: 'opsight.incidents',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export const ALL_TOPICS: string[] = Object.values(TOPICS);

/** The high-volume topics the ingest sources publish and the writer stores. */
export const INGEST_TOPICS: readonly string[] = [TOPICS.metrics, TOPICS.logs, TOPICS.billing, TOPICS.traces];
