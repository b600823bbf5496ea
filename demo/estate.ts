/**
 * The demo estate: an online shop of 15 services with their dependencies (the CMDB), the known
 * errors operations has written down (the KEDB), and the changes of the last hours. Rendered as
 * the export files a real estate would hand over: CMDB CSVs, a KEDB YAML list and a ServiceNow
 * change_request export, imported with the same code as `opsight cmdb|kedb|changes import`.
 */

export type Kind = 'app' | 'postgres' | 'redis' | 'kafka';

export interface DemoService {
  name: string;
  kind: Kind;
  class: string;
  team: string;
  criticality: 'critical' | 'high' | 'medium' | 'low';
  dependsOn: string[];
  /** Requests per second at the daily mean (apps). */
  rps: number;
  /** Median request latency (s) and log-normal spread (apps). */
  latency: [median: number, sigma: number];
  /** Resident memory at rest (bytes). */
  memory: number;
  /** CPU cores used at the daily mean. */
  cores: number;
  route: string;
  account: string;
}

const MB = 1024 * 1024;

const app = (
  name: string,
  team: string,
  criticality: DemoService['criticality'],
  dependsOn: string[],
  rps: number,
  latency: [number, number],
  memoryMb: number,
  cores: number,
  route: string,
  account: string,
): DemoService => ({
  name,
  kind: 'app',
  class: 'service',
  team,
  criticality,
  dependsOn,
  rps,
  latency,
  memory: memoryMb * MB,
  cores,
  route,
  account,
});

const infra = (
  name: string,
  kind: Exclude<Kind, 'app'>,
  team: string,
  criticality: DemoService['criticality'],
  memoryMb: number,
  account: string,
): DemoService => ({
  name,
  kind,
  class: kind === 'postgres' ? 'db_postgresql_instance' : kind === 'redis' ? 'cache_redis' : 'message_queue',
  team,
  criticality,
  dependsOn: [],
  rps: 0,
  latency: [0, 0],
  memory: memoryMb * MB,
  cores: 0,
  route: '',
  account,
});

/** 11 applications, 4 data stores. The storefront reaches orders only through checkout. */
export const SERVICES: readonly DemoService[] = [
  app(
    'storefront',
    'team-web',
    'critical',
    ['catalog', 'search', 'cart', 'checkout', 'recommendation', 'user-profile'],
    40,
    [0.06, 0.5],
    700,
    1.2,
    '/',
    'shop-prod',
  ),
  app(
    'catalog',
    'team-catalog',
    'high',
    ['catalog-db', 'redis-cache'],
    30,
    [0.02, 0.5],
    900,
    0.8,
    '/api/products/{id}',
    'shop-prod',
  ),
  app('search', 'team-catalog', 'high', ['catalog'], 12, [0.08, 0.6], 1400, 1.0, '/api/search', 'shop-prod'),
  app('cart', 'team-web', 'high', ['redis-cache'], 10, [0.015, 0.4], 400, 0.3, '/api/cart', 'shop-prod'),
  app(
    'recommendation',
    'team-ml',
    'medium',
    ['catalog', 'redis-cache'],
    15,
    [0.05, 0.5],
    600,
    0.9,
    '/api/recommendations',
    'shop-prod',
  ),
  app(
    'user-profile',
    'team-web',
    'medium',
    ['redis-cache'],
    8,
    [0.02, 0.4],
    350,
    0.2,
    '/api/users/{id}',
    'shop-prod',
  ),
  app(
    'checkout',
    'team-payments',
    'critical',
    ['orders', 'payments', 'cart'],
    4,
    [0.15, 0.5],
    500,
    0.4,
    '/api/checkout',
    'orders-prod',
  ),
  app(
    'orders',
    'team-orders',
    'critical',
    ['orders-db', 'inventory', 'message-queue'],
    6,
    [0.04, 0.5],
    650,
    0.5,
    '/api/orders',
    'orders-prod',
  ),
  app(
    'payments',
    'team-payments',
    'critical',
    ['message-queue'],
    4,
    [0.25, 0.4],
    450,
    0.3,
    '/api/payments',
    'orders-prod',
  ),
  app(
    'invoicing',
    'team-orders',
    'high',
    ['orders-db', 'message-queue'],
    3,
    [0.05, 0.5],
    380,
    0.2,
    '/api/invoices',
    'orders-prod',
  ),
  app(
    'inventory',
    'team-orders',
    'high',
    ['catalog-db'],
    9,
    [0.02, 0.5],
    420,
    0.3,
    '/api/stock/{sku}',
    'orders-prod',
  ),
  infra('orders-db', 'postgres', 'team-dba', 'critical', 8192, 'orders-prod'),
  infra('catalog-db', 'postgres', 'team-dba', 'high', 6144, 'shop-prod'),
  infra('redis-cache', 'redis', 'team-platform', 'high', 2048, 'platform-prod'),
  infra('message-queue', 'kafka', 'team-platform', 'high', 4096, 'platform-prod'),
];

export const service = (name: string): DemoService => {
  const s = SERVICES.find((x) => x.name === name);
  if (!s) throw new Error(`no demo service ${name}`);
  return s;
};

/** The services the faults are injected into, and what the demo expects opsight to find. */
export const FAULTS = {
  outage: {
    ci: 'orders-db',
    knownError: 'KE-0142',
    change: 'CHG0031337',
    /** Direct and transitive dependents, as the CMDB says. */
    dependents: ['orders', 'invoicing', 'checkout', 'storefront'],
  },
  leak: { ci: 'recommendation', knownError: 'KE-0107', change: 'CHG0031402' },
  cost: {
    account: 'shop-prod',
    service: 'Amazon Elastic Compute Cloud',
    resource: 'search-indexer-asg',
    knownError: 'KE-0175',
  },
} as const;

function csvLine(cells: string[]): string {
  return cells.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',');
}

export function cmdbCisCsv(): string {
  const lines = [
    csvLine(['id', 'name', 'class', 'service', 'owner_group', 'environment', 'criticality', 'account']),
  ];
  for (const s of SERVICES)
    lines.push(csvLine([s.name, s.name, s.class, s.name, s.team, 'production', s.criticality, s.account]));
  return `${lines.join('\n')}\n`;
}

export function cmdbRelationsCsv(): string {
  const lines = [csvLine(['parent', 'child', 'type'])];
  for (const s of SERVICES) for (const d of s.dependsOn) lines.push(csvLine([s.name, d, 'depends_on']));
  return `${lines.join('\n')}\n`;
}

/**
 * Known errors: the three that match the injected faults and decoys that must not match.
 * Symptoms are alert-field patterns and text, as operations would write them.
 */
export function knownErrorsYaml(): string {
  return `# Known errors of the demo shop (opsight kedb import format)
- id: KE-0142
  title: orders-db down after its WAL volume filled up
  symptoms:
    - alertname=TargetDown
    - annotation.summary~No space left on device|connection refused
  scope: [orders-db, orders, invoicing]
  workaround: >-
    Fail over to the standby (patronictl failover orders-db), then free pg_wal: revert
    wal_keep_size and drop the stale replication slot before restarting the old primary.
  problem: PRB0040142
  status: open
- id: KE-0107
  title: recommendation heap grows without bound with the embedding cache enabled
  symptoms:
    - metric=process.memory.usage
    - annotation.summary~OutOfMemoryError
  scope: [recommendation]
  workaround: >-
    Set EMBEDDING_CACHE_MAX_ENTRIES=50000 and restart the pods, or roll back to 3.7.2.
  problem: PRB0040107
  status: open
- id: KE-0175
  title: search indexer autoscaling loop inflates EC2 cost
  symptoms:
    - cost spike Amazon Elastic Compute Cloud shop-prod
  workaround: >-
    Cap search-indexer-asg at 8 instances and scale on queue depth per instance, not on the
    queue's total depth.
  problem: PRB0040175
  status: open
- id: KE-0090
  title: redis-cache evictions slow down the cart
  symptoms:
    - alertname=RedisEvictions
    - annotation.summary~evicted keys
  scope: [redis-cache, cart]
  workaround: Raise maxmemory on redis-cache or shorten the cart TTL.
  status: open
- id: KE-0061
  title: catalog-db slow queries during the nightly reindex
  symptoms:
    - alertname=HighLatency
    - annotation.summary~catalog
  scope: [catalog-db, catalog]
  workaround: Move the reindex job to 04:00 UTC.
  status: open
- id: KE-0033
  title: payments provider timeouts
  symptoms:
    - annotation.summary~payment provider timeout
  scope: [payments]
  workaround: Switch the payment provider to the secondary region.
  status: open
`;
}

export interface DemoChange {
  number: string;
  ci: string;
  /** Unix ms. */
  at: number;
  type: string;
  description: string;
}

/** Changes relative to `anchor` (the simulated "now" when the live part starts). */
export function demoChanges(anchor: number): DemoChange[] {
  const min = 60_000;
  return [
    {
      number: 'CHG0031290',
      ci: 'catalog',
      at: anchor - 190 * min,
      type: 'Standard',
      description: 'catalog 2.31.0: product badges',
    },
    {
      number: 'CHG0031402',
      ci: 'recommendation',
      at: anchor - 50 * min,
      type: 'Normal',
      description: 'recommendation 3.8.0: enable in-process embedding cache',
    },
    {
      number: 'CHG0031337',
      ci: 'orders-db',
      at: anchor - 35 * min,
      type: 'Normal',
      description: 'orders-db: raise wal_keep_size to 64GB for the new replica',
    },
    {
      number: 'CHG0031411',
      ci: 'storefront',
      at: anchor - 20 * min,
      type: 'Standard',
      description: 'storefront 5.2.4: new banner',
    },
  ];
}

const snTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** A ServiceNow change_request export (Table API shape). */
export function changesJson(anchor: number): string {
  return JSON.stringify(
    {
      result: demoChanges(anchor).map((c) => ({
        number: c.number,
        cmdb_ci: { value: c.ci, display_value: c.ci },
        type: { value: c.type.toLowerCase(), display_value: c.type },
        short_description: c.description,
        work_start: snTime(c.at),
        work_end: snTime(c.at + 5 * 60_000),
        state: 'Closed',
        u_link: `https://ci.shop.example/changes/${c.number}`,
      })),
    },
    null,
    2,
  );
}
