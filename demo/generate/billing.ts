import { FAULTS, SERVICES, type DemoService } from '../estate.ts';
import { hashSeed, Random } from '../random.ts';
import { billingDay } from './season.ts';

/**
 * Synthetic AWS billing as FinOps FOCUS 1.0 CSV: one month-to-date export file per billing
 * period, as providers deliver them (each new delivery restates the month). Daily usage lines
 * per resource: EC2 Auto Scaling groups for the applications, RDS, ElastiCache and MSK for the
 * data stores, S3 per account. Yesterday search-indexer-asg scaled out to 60 instances from
 * 03:00 (the runaway autoscaling): it shows once the export that contains yesterday arrives.
 */

export const DAY = 86_400_000;

const HEADER = [
  'BillingAccountId',
  'BillingAccountName',
  'SubAccountId',
  'SubAccountName',
  'ProviderName',
  'PublisherName',
  'InvoiceIssuerName',
  'BillingPeriodStart',
  'BillingPeriodEnd',
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'ChargeCategory',
  'ChargeDescription',
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'BillingCurrency',
  'ServiceName',
  'ServiceCategory',
  'RegionId',
  'RegionName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'SkuId',
  'PricingQuantity',
  'PricingUnit',
  'ConsumedQuantity',
  'ConsumedUnit',
  'Tags',
] as const;

type Row = Record<(typeof HEADER)[number], string>;

interface Item {
  account: string;
  service: string;
  category: string;
  resource: string;
  resourceType: string;
  sku: string;
  description: string;
  /** Units per day at the mean and price per unit. */
  units: number;
  unit: string;
  price: number;
  tags: Record<string, string>;
}

const EC2 = 'Amazon Elastic Compute Cloud';

function items(services: readonly DemoService[]): Item[] {
  const out: Item[] = [];
  for (const s of services) {
    const tags = { team: s.team, service: s.name, env: 'production' };
    if (s.kind === 'app') {
      const instances = Math.max(2, Math.ceil(s.cores * 3));
      out.push({
        account: s.account,
        service: EC2,
        category: 'Compute',
        resource: `${s.name}-asg`,
        resourceType: 'Auto Scaling Group',
        sku: 'm6i.xlarge',
        description: `$0.192 per On Demand Linux m6i.xlarge Instance Hour`,
        units: instances * 24,
        unit: 'Hours',
        price: 0.192,
        tags,
      });
    } else {
      const [service, category, sku, price] =
        s.kind === 'postgres'
          ? ['Amazon Relational Database Service', 'Databases', 'db.r6g.2xlarge', 0.82]
          : s.kind === 'redis'
            ? ['Amazon ElastiCache', 'Databases', 'cache.r6g.large', 0.206]
            : ['Amazon Managed Streaming for Apache Kafka', 'Analytics', 'kafka.m5.large', 0.21];
      const nodes = s.kind === 'kafka' ? 3 : 2;
      out.push({
        account: s.account,
        service,
        category,
        resource: s.name,
        resourceType: s.kind === 'postgres' ? 'DB Instance' : 'Cluster',
        sku,
        description: `${sku} node hours`,
        units: nodes * 24,
        unit: 'Hours',
        price,
        tags,
      });
    }
  }
  out.push({
    account: FAULTS.cost.account,
    service: EC2,
    category: 'Compute',
    resource: FAULTS.cost.resource,
    resourceType: 'Auto Scaling Group',
    sku: 'c5.2xlarge',
    description: '$0.34 per On Demand Linux c5.2xlarge Instance Hour',
    units: 4 * 24,
    unit: 'Hours',
    price: 0.34,
    tags: { team: 'team-catalog', service: 'search', env: 'production' },
  });
  for (const account of new Set(services.map((s) => s.account)))
    out.push({
      account,
      service: 'Amazon Simple Storage Service',
      category: 'Storage',
      resource: `${account}-assets`,
      resourceType: 'Bucket',
      sku: 'TimedStorage-ByteHrs',
      description: 'Standard storage GB-Month',
      units: 1800,
      unit: 'GB-Month',
      price: 0.023 / 30,
      tags: { env: 'production' },
    });
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const money = (v: number) => v.toFixed(6);
const monthStart = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const nextMonth = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

/** Units of the runaway group on the spike day: 4 instances until 03:00, 60 after. */
const RUNAWAY_UNITS = 4 * 3 + 60 * 21;

export class BillingGenerator {
  private readonly items: Item[];

  constructor(
    private readonly seed: number,
    /** Start of the spike day (yesterday, UTC). */
    private readonly spikeDay: number,
  ) {
    this.items = items(SERVICES);
  }

  /** Usage rows of one day. */
  day(dayStart: number): Row[] {
    const r = new Random(hashSeed(this.seed, `billing|${dayStart}`));
    const factor = billingDay(dayStart, this.spikeDay);
    const bp = monthStart(dayStart);
    return this.items.map((it) => {
      const runaway = dayStart === this.spikeDay && it.resource === FAULTS.cost.resource;
      const units = runaway ? RUNAWAY_UNITS : it.units * factor * (1 + 0.02 * r.jitter());
      const cost = units * it.price;
      return {
        BillingAccountId: '100000000001',
        BillingAccountName: 'Demo Shop GmbH',
        SubAccountId: it.account,
        SubAccountName: it.account,
        ProviderName: 'AWS',
        PublisherName: 'Amazon Web Services, Inc.',
        InvoiceIssuerName: 'Amazon Web Services EMEA SARL',
        BillingPeriodStart: iso(bp),
        BillingPeriodEnd: iso(nextMonth(dayStart)),
        ChargePeriodStart: iso(dayStart),
        ChargePeriodEnd: iso(dayStart + DAY),
        ChargeCategory: 'Usage',
        ChargeDescription: it.description,
        BilledCost: money(cost),
        EffectiveCost: money(cost),
        ListCost: money(cost),
        BillingCurrency: 'USD',
        ServiceName: it.service,
        ServiceCategory: it.category,
        RegionId: 'eu-central-1',
        RegionName: 'Europe (Frankfurt)',
        ResourceId: it.resource,
        ResourceName: it.resource,
        ResourceType: it.resourceType,
        SkuId: it.sku,
        PricingQuantity: units.toFixed(3),
        PricingUnit: it.unit,
        ConsumedQuantity: units.toFixed(3),
        ConsumedUnit: it.unit,
        Tags: JSON.stringify(it.tags),
      };
    });
  }

  /**
   * Month-to-date export files for the days [first, last] (day starts): file name and CSV text
   * per billing period.
   */
  exports(first: number, last: number): { name: string; csv: string }[] {
    const byMonth = new Map<number, Row[]>();
    for (let d = first; d <= last; d += DAY) {
      const m = monthStart(d);
      const rows = byMonth.get(m) ?? [];
      rows.push(...this.day(d));
      byMonth.set(m, rows);
    }
    return [...byMonth].map(([m, rows]) => ({
      name: `focus-${iso(m).slice(0, 7)}.csv`,
      csv:
        [HEADER.join(','), ...rows.map((row) => HEADER.map((h) => csvCell(row[h])).join(','))].join('\n') +
        '\n',
    }));
  }
}

const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
