/** The bus topics and what travels on each. */
export const TOPICS = {
  metrics: 'opsight.metrics',
  logs: 'opsight.logs',
  billing: 'opsight.billing',
  alerts: 'opsight.alerts',
  incidents: 'opsight.incidents',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export const ALL_TOPICS: string[] = Object.values(TOPICS);
