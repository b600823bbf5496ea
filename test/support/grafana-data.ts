import type { ClickHouseClient } from '@clickhouse/client';

/**
 * Data for the dashboard tests: a small estate written into the real, migrated tables of a
 * dedicated database, covering every table a dashboard reads, in the shapes opsight's writers
 * produce (OTel exporter columns, the correlator's alert and incident rows, the detectors'
 * log templates, FOCUS billing with exact decimals).
 *
 * To run the dashboards on the demo instead, replace the body of `seedDashboardData` with a call
 * to the demo's `runDemo` against the same ClickHouse and database and return the estate it
 * built (services, environments, one incident id); nothing else in the tests changes.
 */

export interface SeededEstate {
  services: string[];
  environments: string[];
  /** A service with metrics, logs, alerts, a CI, dependencies and a change. */
  focusService: string;
  /** A metric of focusService with an anomaly alert (expected band). */
  focusMetric: string;
  incidentId: string;
  now: number;
}

interface Service {
  name: string;
  env: string;
  rps: number;
  errorRate: number;
  medianS: number;
  /** Uses Prometheus counters (`http_requests_total`) rather than OTel histograms. */
  prometheus: boolean;
  ciClass: string;
  criticality: string;
  dependsOn: string[];
}

const SERVICES: Service[] = [
  svc('frontend', 'prod', 40, 0.002, 0.08, false, 'service', 'high', ['checkout', 'search', 'auth']),
  svc('checkout', 'prod', 12, 0.004, 0.12, false, 'service', 'critical', [
    'payments-api',
    'orders-db',
    'cart-cache',
  ]),
  svc('payments-api', 'prod', 8, 0.003, 0.15, true, 'service', 'critical', ['orders-db']),
  svc('search', 'prod', 25, 0.001, 0.05, true, 'service', 'medium', []),
  svc('auth', 'prod', 30, 0.001, 0.02, false, 'service', 'high', ['orders-db']),
  svc('inventory', 'staging', 5, 0.01, 0.06, false, 'service', 'medium', ['orders-db']),
  svc('orders-db', 'prod', 0, 0, 0, false, 'db_postgresql_instance', 'critical', []),
  svc('cart-cache', 'prod', 0, 0, 0, false, 'db_redis_instance', 'high', []),
];

function svc(
  name: string,
  env: string,
  rps: number,
  errorRate: number,
  medianS: number,
  prometheus: boolean,
  ciClass: string,
  criticality: string,
  dependsOn: string[],
): Service {
  return { name, env, rps, errorRate, medianS, prometheus, ciClass, criticality, dependsOn };
}

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STEP_MS = 60_000;
const HOURS = 6;
const iso = (ms: number) => new Date(ms).toISOString();
const ci = (name: string) => `ci-${name}`;

/** Deterministic noise so a failing query is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

/** Request counts per duration bucket for a log-normal latency around `median`. */
function bucketCounts(n: number, median: number): number[] {
  const cdf = (b: number) => 0.5 * (1 + erf(Math.log(b / median) / (0.6 * Math.SQRT2)));
  const out: number[] = [];
  let prev = 0;
  for (const b of BOUNDS) {
    const c = cdf(b);
    out.push(Math.round(n * (c - prev)));
    prev = c;
  }
  out.push(Math.max(0, n - out.reduce((a, b) => a + b, 0)));
  return out;
}

export async function seedDashboardData(client: ClickHouseClient, now = Date.now()): Promise<SeededEstate> {
  const end = Math.floor(now / STEP_MS) * STEP_MS;
  const start = end - HOURS * 3_600_000;
  // The payments outage (orders-db down, its dependents erroring) in the last 40 minutes.
  const outageStart = end - 40 * 60_000;
  const rand = rng(7);
  const apps = SERVICES.filter((s) => s.rps > 0);

  const sums: object[] = [];
  const histograms: object[] = [];
  const gauges: object[] = [];
  for (const s of apps) {
    const resource = { 'service.name': s.name, 'deployment.environment': s.env, 'host.name': `${s.name}-1` };
    const failing = ['payments-api', 'checkout'].includes(s.name);
    const cum = { ok: 0, err: 0 };
    // Cumulative histogram state per status code.
    const hist = new Map<string, { buckets: number[]; count: number; sum: number }>();
    for (let t = start; t <= end; t += STEP_MS) {
      const day = 1 + 0.3 * Math.sin(((t / 3_600_000) % 24) * ((2 * Math.PI) / 24));
      const n = Math.round(s.rps * 60 * day * (0.9 + 0.2 * rand()));
      const errRate = failing && t >= outageStart ? 0.25 : s.errorRate;
      const errors = Math.round(n * errRate);
      const median = failing && t >= outageStart ? s.medianS * 6 : s.medianS;
      cum.ok += n - errors;
      cum.err += errors;
      const common = {
        ResourceAttributes: resource,
        ServiceName: s.name,
        StartTimeUnix: iso(start),
        TimeUnix: iso(t),
      };
      if (s.prometheus) {
        // Prometheus client libraries export a duration histogram beside the counter.
        for (const [code, k] of [
          ['200', n - errors],
          ['503', errors],
        ] as const) {
          const counts = bucketCounts(k, median);
          const state = hist.get(code) ?? { buckets: BOUNDS.map(() => 0).concat(0), count: 0, sum: 0 };
          hist.set(code, state);
          state.buckets = state.buckets.map((b, i) => b + counts[i]!);
          state.count += k;
          state.sum += k * median * 1.2;
          histograms.push({
            ...common,
            MetricName: 'http_request_duration_seconds',
            Attributes: { code, job: s.name, instance: `${s.name}-1:9100` },
            Count: state.count,
            Sum: state.sum,
            BucketCounts: state.buckets,
            ExplicitBounds: BOUNDS,
            AggregationTemporality: 2,
          });
        }
        for (const [code, v] of [
          ['200', cum.ok],
          ['503', cum.err],
        ] as const) {
          sums.push({
            ...common,
            MetricName: 'http_requests_total',
            MetricDescription: 'Requests served',
            Attributes: { code, job: s.name, instance: `${s.name}-1:9100` },
            Value: v,
            AggregationTemporality: 2,
            IsMonotonic: true,
          });
        }
      } else {
        // One histogram series per status code, as OTel SDKs export http.server.request.duration.
        for (const [code, k] of [
          ['200', n - errors],
          ['500', errors],
        ] as const) {
          const counts = bucketCounts(k, median);
          const state = hist.get(code) ?? { buckets: BOUNDS.map(() => 0).concat(0), count: 0, sum: 0 };
          hist.set(code, state);
          state.buckets = state.buckets.map((b, i) => b + counts[i]!);
          state.count += k;
          state.sum += k * median * 1.2;
          histograms.push({
            ...common,
            MetricName: 'http.server.request.duration',
            MetricUnit: 's',
            Attributes: { 'http.request.method': 'GET', 'http.response.status_code': code },
            Count: state.count,
            Sum: state.sum,
            BucketCounts: state.buckets,
            ExplicitBounds: BOUNDS,
            Min: median / 4,
            Max: median * 8,
            AggregationTemporality: 2,
          });
        }
      }
      // A memory gauge per service; inventory leaks after its deploy two hours ago.
      const leak =
        s.name === 'inventory' && t > end - 2 * 3_600_000 ? (t - (end - 2 * 3_600_000)) / 60_000 : 0;
      gauges.push({
        ...common,
        MetricName: 'process.memory.usage',
        MetricUnit: 'By',
        Attributes: {},
        Value: (200 + 20 * rand() + leak * 3) * 1024 * 1024,
      });
      gauges.push({
        ...common,
        MetricName: 'up',
        Attributes: { job: s.name, instance: `${s.name}-1:9100` },
        Value: 1,
      });
    }
  }

  const templates: {
    service: string;
    id: string;
    text: string;
    sev: string;
    num: number;
    perStep: number;
    since?: number;
    noEnv?: boolean;
  }[] = [
    {
      service: 'checkout',
      id: 'a1c0ffee00000001',
      text: 'Order <*> placed for user <*>',
      sev: 'INFO',
      num: 9,
      perStep: 3,
    },
    {
      service: 'checkout',
      id: 'a1c0ffee00000002',
      text: 'Payment call to payments-api failed after <*> ms: <*>',
      sev: 'ERROR',
      num: 17,
      perStep: 2,
      since: outageStart,
    },
    {
      service: 'payments-api',
      id: 'b2c0ffee00000001',
      text: 'Charge <*> authorised in <*> ms',
      sev: 'INFO',
      num: 9,
      perStep: 2,
    },
    {
      service: 'payments-api',
      id: 'b2c0ffee00000002',
      text: 'FATAL: remaining connection slots are reserved for <*>',
      sev: 'ERROR',
      num: 17,
      perStep: 4,
      since: outageStart,
    },
    {
      service: 'inventory',
      id: 'c3c0ffee00000001',
      text: 'Cache warmed with <*> items',
      sev: 'INFO',
      num: 9,
      perStep: 1,
    },
    {
      service: 'inventory',
      id: 'c3c0ffee00000002',
      text: 'GC pause of <*> ms',
      sev: 'WARN',
      num: 13,
      perStep: 1,
    },
    {
      service: 'frontend',
      id: 'd4c0ffee00000001',
      text: 'GET <*> <*> in <*> ms',
      sev: 'INFO',
      num: 9,
      perStep: 4,
    },
    {
      service: 'auth',
      id: 'e5c0ffee00000001',
      text: 'Token issued for <*>',
      sev: 'DEBUG',
      num: 5,
      perStep: 2,
      // Shipped by syslog: no deployment.environment; dashboards place it by its service's metrics.
      noEnv: true,
    },
  ];
  const logs: object[] = [];
  const templateRows: object[] = [];
  for (const tp of templates) {
    const s = SERVICES.find((x) => x.name === tp.service)!;
    let count = 0;
    let first = 0;
    let last = 0;
    let sample = '';
    for (let t = tp.since ?? start; t <= end; t += 5 * STEP_MS) {
      for (let i = 0; i < tp.perStep; i++) {
        const at = t + i * 1000;
        const body = tp.text.replace(/<\*>/g, () => String(Math.floor(rand() * 10_000)));
        logs.push({
          Timestamp: iso(at),
          SeverityText: tp.sev,
          SeverityNumber: tp.num,
          ServiceName: s.name,
          Body: body,
          ResourceAttributes: tp.noEnv
            ? { 'service.name': s.name, 'host.name': `${s.name}-1` }
            : { 'service.name': s.name, 'deployment.environment': s.env },
          LogAttributes: {},
          TemplateId: tp.id,
        });
        count++;
        first ||= at;
        last = at;
        sample ||= body;
      }
    }
    templateRows.push({
      service: s.name,
      template_id: tp.id,
      template: tp.text,
      first_seen: iso(first),
      last_seen: iso(last),
      count,
      sample,
      severity_text: tp.sev,
    });
  }

  // Billing: 35 days of daily usage per cloud service, account and region, tagged with the app.
  const billing: object[] = [];
  const day0 = Math.floor(end / 86_400_000) * 86_400_000 - 34 * 86_400_000;
  const lines = [
    {
      svc: 'Amazon Elastic Compute Cloud',
      cat: 'Compute',
      sku: 'BoxUsage:m6i.large',
      app: 'checkout',
      usd: 180,
    },
    {
      svc: 'Amazon Relational Database Service',
      cat: 'Databases',
      sku: 'InstanceUsage:db.r6g.xlarge',
      app: 'orders-db',
      usd: 95,
    },
    {
      svc: 'Amazon Simple Storage Service',
      cat: 'Storage',
      sku: 'TimedStorage-ByteHrs',
      app: 'search',
      usd: 22.5,
    },
    { svc: 'AWS Lambda', cat: 'Compute', sku: 'Lambda-GB-Second', app: 'payments-api', usd: 14.25 },
  ];
  const accounts = [
    { id: '111111111111', name: 'prod' },
    { id: '222222222222', name: 'staging' },
  ];
  const regions = ['eu-west-1', 'us-east-1'];
  let lineNo = 0;
  for (let d = 0; d < 35; d++) {
    const dayStart = day0 + d * 86_400_000;
    for (const l of lines) {
      for (const a of accounts) {
        for (const r of regions) {
          const scale = (a.name === 'prod' ? 1 : 0.2) * (r === 'eu-west-1' ? 0.7 : 0.3);
          // The runaway autoscaling: EC2 in prod/us-east-1 five times its usual cost yesterday.
          const spike =
            d === 33 && l.svc === 'Amazon Elastic Compute Cloud' && a.name === 'prod' && r === 'us-east-1'
              ? 5
              : 1;
          const cost = (l.usd * scale * spike * (0.95 + 0.1 * rand())).toFixed(6);
          billing.push({
            BilledCost: cost,
            EffectiveCost: cost,
            ListCost: (Number(cost) * 1.1).toFixed(6),
            ContractedCost: cost,
            BillingCurrency: 'USD',
            BillingPeriodStart: iso(
              Date.UTC(new Date(dayStart).getUTCFullYear(), new Date(dayStart).getUTCMonth(), 1),
            ),
            BillingPeriodEnd: iso(
              Date.UTC(new Date(dayStart).getUTCFullYear(), new Date(dayStart).getUTCMonth() + 1, 1),
            ),
            ChargePeriodStart: iso(dayStart),
            ChargePeriodEnd: iso(dayStart + 86_400_000),
            ChargeCategory: 'Usage',
            ProviderName: 'AWS',
            BillingAccountId: '999999999999',
            BillingAccountName: 'opsight-org',
            SubAccountId: a.id,
            SubAccountName: a.name,
            ServiceName: l.svc,
            ServiceCategory: l.cat,
            RegionId: r,
            RegionName: r,
            ResourceId: `arn:aws:${l.app}:${r}:${a.id}`,
            SkuId: l.sku,
            Tags: { service: l.app, team: l.app === 'orders-db' ? 'data' : 'shop' },
            SourceName: 'seed',
            SourceFile: 'seed.csv',
            SourceLine: ++lineNo,
          });
        }
      }
    }
    // A credit on one day: negative money must sum exactly.
    if (d === 20) {
      billing.push({
        BilledCost: '-25.125000',
        EffectiveCost: '-25.125000',
        ListCost: '0',
        ContractedCost: '0',
        BillingCurrency: 'USD',
        ChargePeriodStart: iso(dayStart),
        ChargePeriodEnd: iso(dayStart + 86_400_000),
        BillingPeriodStart: iso(dayStart),
        BillingPeriodEnd: iso(dayStart),
        ChargeCategory: 'Credit',
        ProviderName: 'AWS',
        SubAccountId: accounts[0]!.id,
        SubAccountName: accounts[0]!.name,
        ServiceName: 'Amazon Elastic Compute Cloud',
        RegionId: 'eu-west-1',
        Tags: { service: 'checkout' },
        SourceName: 'seed',
        SourceFile: 'seed.csv',
        SourceLine: ++lineNo,
      });
    }
  }

  // Alerts as the correlator stores them: every notification a row.
  const alerts: object[] = [];
  const alert = (a: {
    at: number;
    fingerprint: string;
    source: string;
    kind: string;
    status?: string;
    severity: string;
    service: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: number;
    endsAt?: number;
    score: number;
    series?: string;
    observed?: number;
    expected?: number;
    lower?: number;
    upper?: number;
  }) =>
    alerts.push({
      received_at: iso(a.at),
      fingerprint: a.fingerprint,
      source: a.source,
      kind: a.kind,
      status: a.status ?? 'firing',
      severity: a.severity,
      service: a.service,
      ci_hint: '',
      labels: a.labels,
      annotations: a.annotations,
      starts_at: iso(a.startsAt),
      ends_at: a.endsAt === undefined ? null : iso(a.endsAt),
      score: a.score,
      evidence_series: a.series ?? '',
      evidence_observed: a.observed ?? null,
      evidence_expected: a.expected ?? null,
      evidence_lower: a.lower ?? null,
      evidence_upper: a.upper ?? null,
      evidence_query: '',
    });
  for (let t = outageStart; t <= end; t += 2 * STEP_MS) {
    const observed = 8 * 60 * 0.25 + rand() * 10;
    alert({
      at: t,
      fingerprint: 'fp-payments-anomaly',
      source: 'metrics',
      kind: 'metric_anomaly',
      severity: 'error',
      service: 'payments-api',
      labels: {
        alertname: 'MetricAnomaly',
        metric: 'http_requests_total',
        service: 'payments-api',
        code: '503',
      },
      annotations: {
        summary: `payments-api: http_requests_total is ${observed.toFixed(1)}/s, expected 1.4 (0.2..3.1)`,
      },
      startsAt: outageStart,
      score: 0.9,
      series: 'payments-api|http_requests_total|code=503',
      observed,
      expected: 1.4,
      lower: 0.2,
      upper: 3.1,
    });
  }
  for (const [service, name] of [
    ['payments-api', 'HighErrorRatio'],
    ['checkout', 'HighErrorRatio'],
    ['orders-db', 'TargetDown'],
  ] as const) {
    alert({
      at: outageStart + 60_000,
      fingerprint: `fp-${service}-${name}`,
      source: 'health',
      kind: name === 'TargetDown' ? 'service_down' : 'slo_burn',
      severity: 'critical',
      service,
      labels: { alertname: name, service },
      annotations: { summary: `${service}: ${name}` },
      startsAt: outageStart + 60_000,
      score: 1,
    });
  }
  alert({
    at: outageStart + 120_000,
    fingerprint: 'fp-checkout-newtemplate',
    source: 'logs',
    kind: 'log_anomaly',
    severity: 'error',
    service: 'checkout',
    labels: { alertname: 'NewErrorLogTemplate', service: 'checkout', template_id: 'a1c0ffee00000002' },
    annotations: { summary: 'checkout: new error log template', template: templates[1]!.text },
    startsAt: outageStart + 120_000,
    score: 0.8,
  });
  // The inventory memory leak: fired, then resolved.
  for (const [status, at] of [
    ['firing', end - 90 * 60_000],
    ['resolved', end - 50 * 60_000],
  ] as const) {
    alert({
      at,
      fingerprint: 'fp-inventory-memory',
      source: 'metrics',
      kind: 'metric_anomaly',
      status,
      severity: 'warning',
      service: 'inventory',
      labels: { alertname: 'MetricAnomaly', metric: 'process.memory.usage', service: 'inventory' },
      annotations: { summary: 'inventory: process.memory.usage is 540 MB, expected 210 MB (180 MB..240 MB)' },
      startsAt: end - 90 * 60_000,
      ...(status === 'resolved' ? { endsAt: at } : {}),
      score: 0.7,
      series: 'inventory|process.memory.usage',
      observed: 540 * 1024 * 1024,
      expected: 210 * 1024 * 1024,
      lower: 180 * 1024 * 1024,
      upper: 240 * 1024 * 1024,
    });
  }
  const spikeDay = day0 + 33 * 86_400_000;
  const spikeDrivers = [
    {
      skuId: 'BoxUsage:m6i.large',
      resourceId: 'arn:aws:checkout:us-east-1:111111111111',
      regionId: 'us-east-1',
      description: '$0.096 per On Demand Linux m6i.large Instance Hour',
      observed: 200.4,
      expected: 40,
      increase: 160.4,
      share: 0.97,
    },
  ];
  alert({
    at: end - 3 * 3_600_000,
    fingerprint: 'fp-cost-ec2',
    source: 'cost',
    kind: 'cost_spike',
    severity: 'error',
    service: 'Amazon Elastic Compute Cloud',
    labels: {
      alertname: 'CostSpike',
      team: 'finance',
      currency: 'USD',
      period: iso(spikeDay).slice(0, 10),
      ProviderName: 'AWS',
      SubAccountId: '111111111111',
      ServiceName: 'Amazon Elastic Compute Cloud',
    },
    annotations: {
      summary:
        'Cost spike: AWS / 111111111111 / Amazon Elastic Compute Cloud (USD) cost 358.40 USD, expected 198.00 USD (+81%)',
      actual: '358.40',
      expected: '198.00',
      increase: '160.40',
      currency: 'USD',
      period: iso(spikeDay).slice(0, 10),
      drivers: JSON.stringify(spikeDrivers),
      drivers_summary:
        'SKU BoxUsage:m6i.large resource arn:aws:checkout:us-east-1:111111111111 in us-east-1: +160.40 USD (97%)',
    },
    startsAt: spikeDay,
    score: 0.95,
    series: 'AWS / 111111111111 / Amazon Elastic Compute Cloud (USD)',
    observed: 358.4,
    expected: 198,
    lower: 170,
    upper: 230,
  });

  // CMDB, known errors and changes.
  const cis = SERVICES.map((s) => ({
    id: ci(s.name),
    name: s.name,
    class: s.ciClass,
    service: s.name,
    owner_group: s.name === 'orders-db' ? 'team-data' : 'team-shop',
    environment: s.env,
    criticality: s.criticality,
    attributes: {},
    discovered: false,
    source: 'seed',
    deleted: 0,
  }));
  const rels = SERVICES.flatMap((s) =>
    s.dependsOn.map((d) => ({
      parent: ci(s.name),
      child: ci(d),
      type: 'depends_on',
      source: 'seed',
      deleted: 0,
    })),
  );
  const changes = [
    {
      ci: ci('inventory'),
      time: iso(end - 2 * 3_600_000),
      kind: 'deployment',
      id: 'deploy-981',
      description: 'inventory 2.4.0',
      link: 'https://ci.example.com/981',
      source: 'api',
    },
    {
      ci: ci('payments-api'),
      time: iso(outageStart - 15 * 60_000),
      kind: 'config',
      id: 'chg-77',
      description: 'orders-db max_connections 200 -> 100',
      link: '',
      source: 'api',
    },
  ];
  const knownErrors = [
    {
      id: 'KE-001',
      title: 'Postgres connection slots exhausted',
      symptoms: ['annotation.summary~remaining connection slots', 'alertname=TargetDown'],
      scope: ['orders-db', 'db_postgresql_instance'],
      workaround: 'Restart pgbouncer on the primary, then raise max_connections back',
      problem_ref: 'PRB0040012',
      status: 'open',
      source: 'seed',
      deleted: 0,
    },
  ];

  // Incidents as the correlator versions them: the outage opened, acknowledged, resolved; the
  // leak open; the cost spike open. The dashboards must read the newest version only.
  const incident = (i: {
    id: string;
    version: number;
    status: string;
    severity: string;
    title: string;
    service: string;
    fingerprints: string[];
    cis: string[];
    rootCause: string;
    knownError?: string;
    firstSeen: number;
    lastSeen: number;
    priority: string;
    ackAt?: number;
    resolvedAt?: number;
    costKey?: string;
  }) => ({
    id: i.id,
    version: i.version,
    status: i.status,
    severity: i.severity,
    title: i.title,
    service: i.service,
    alert_fingerprints: i.fingerprints,
    alert_count: i.fingerprints.length,
    affected_cis: i.cis,
    root_causes: JSON.stringify([
      { ci: i.rootCause, score: 0.92, reason: 'depended on by 2 affected CIs; alerted first' },
    ]),
    known_errors: JSON.stringify(
      i.knownError
        ? [
            {
              id: i.knownError,
              score: 0.81,
              workaround: knownErrors[0]!.workaround,
              title: knownErrors[0]!.title,
            },
          ]
        : [],
    ),
    timeline: JSON.stringify([{ at: iso(i.firstSeen), event: 'opened' }]),
    first_seen: iso(i.firstSeen),
    last_seen: iso(i.lastSeen),
    notified: ['oncall'],
    priority: i.priority,
    blast_radius: i.cis,
    affected: '[]',
    changes: '[]',
    acknowledged_at: i.ackAt === undefined ? null : iso(i.ackAt),
    resolved_at: i.resolvedAt === undefined ? null : iso(i.resolvedAt),
    cost_key: i.costKey ?? '',
    updated_at: iso(i.lastSeen),
  });
  const outageFps = [
    'fp-payments-anomaly',
    'fp-payments-api-HighErrorRatio',
    'fp-checkout-HighErrorRatio',
    'fp-orders-db-TargetDown',
    'fp-checkout-newtemplate',
  ];
  const outage = {
    id: 'INC-0RDER5DB',
    severity: 'critical',
    title: 'orders-db: TargetDown (+4 alerts on 3 CIs)',
    service: 'orders-db',
    fingerprints: outageFps,
    cis: [ci('orders-db'), ci('payments-api'), ci('checkout')],
    rootCause: ci('orders-db'),
    knownError: 'KE-001',
    firstSeen: outageStart + 60_000,
    priority: 'P1',
  };
  const incidents = [
    incident({
      ...outage,
      version: 1,
      status: 'open',
      fingerprints: outageFps.slice(0, 2),
      lastSeen: outageStart + 60_000,
    }),
    incident({
      ...outage,
      version: 2,
      status: 'acknowledged',
      lastSeen: outageStart + 5 * 60_000,
      ackAt: outageStart + 4 * 60_000,
    }),
    incident({
      ...outage,
      version: 3,
      status: 'resolved',
      lastSeen: end - 5 * 60_000,
      ackAt: outageStart + 4 * 60_000,
      resolvedAt: end - 5 * 60_000,
    }),
    incident({
      id: 'INC-1NVLEAK0',
      version: 1,
      status: 'open',
      severity: 'warning',
      title: 'inventory: MetricAnomaly process.memory.usage',
      service: 'inventory',
      fingerprints: ['fp-inventory-memory'],
      cis: [ci('inventory')],
      rootCause: ci('inventory'),
      firstSeen: end - 90 * 60_000,
      lastSeen: end - 50 * 60_000,
      priority: 'P3',
    }),
    incident({
      id: 'INC-C0575P1K',
      version: 1,
      status: 'open',
      severity: 'error',
      title: 'Cost spike: AWS / 111111111111 / Amazon Elastic Compute Cloud',
      service: '',
      fingerprints: ['fp-cost-ec2'],
      cis: [],
      rootCause: '',
      firstSeen: end - 3 * 3_600_000,
      lastSeen: end - 3 * 3_600_000,
      priority: 'P3',
      costKey: `111111111111|Amazon Elastic Compute Cloud|${iso(spikeDay).slice(0, 10)}`,
    }),
  ];

  const settings = { date_time_input_format: 'best_effort' as const, async_insert: 0 as const };
  const insert = (table: string, values: object[]) =>
    client.insert({ table, values, format: 'JSONEachRow', clickhouse_settings: settings });
  // Sequential: the machine is shared, and a failure names its table.
  for (const [table, values] of [
    ['otel_metrics_sum', sums],
    ['otel_metrics_histogram', histograms],
    ['otel_metrics_gauge', gauges],
    ['otel_logs', logs],
    ['log_templates', templateRows],
    ['billing_focus', billing],
    ['alerts', alerts],
    ['cmdb_ci', cis],
    ['cmdb_rel', rels],
    ['changes', changes],
    ['known_errors', knownErrors],
    ['incidents', incidents],
  ] as const) {
    await insert(table, values);
  }

  return {
    services: apps.map((s) => s.name),
    environments: [...new Set(SERVICES.map((s) => s.env))],
    focusService: 'payments-api',
    focusMetric: 'http_requests_total',
    incidentId: outage.id,
    now: end,
  };
}
