import { TOPICS } from '../../core/bus/topics.ts';
import type { BillingLine } from '../../core/model/records.ts';
import { isObject, type MappedColumn, type TopicMapping } from './mapping.ts';

/**
 * BillingLine -> billing_focus, by name: the table's columns are named after the FOCUS fields.
 * Money stays a decimal string down to the Decimal column (the encoder parses it exactly).
 */

/** Every BillingLine field; `satisfies` keeps the list in step with the interface. */
const FIELDS = {
  BilledCost: true,
  EffectiveCost: true,
  ListCost: true,
  ContractedCost: false,
  BillingCurrency: true,
  BillingPeriodStart: true,
  BillingPeriodEnd: true,
  ChargePeriodStart: true,
  ChargePeriodEnd: true,
  ChargeCategory: true,
  ChargeDescription: false,
  ProviderName: true,
  PublisherName: false,
  InvoiceIssuerName: false,
  BillingAccountId: false,
  BillingAccountName: false,
  SubAccountId: false,
  SubAccountName: false,
  ServiceName: true,
  ServiceCategory: false,
  RegionId: false,
  RegionName: false,
  AvailabilityZone: false,
  ResourceId: false,
  ResourceName: false,
  ResourceType: false,
  SkuId: false,
  SkuPriceId: false,
  PricingUnit: false,
  PricingQuantity: false,
  ConsumedQuantity: false,
  ConsumedUnit: false,
  Tags: false,
  SourceName: true,
  SourceFile: true,
  SourceLine: true,
} as const satisfies Record<keyof BillingLine, boolean>;

/**
 * One getter per field, written out: a shared `(line) => line[name]` would be one property
 * access site for 36 names (megamorphic), which cost more than encoding the value.
 */
const GETTERS: Record<keyof BillingLine, (line: BillingLine) => unknown> = {
  BilledCost: (l) => l.BilledCost,
  EffectiveCost: (l) => l.EffectiveCost,
  ListCost: (l) => l.ListCost,
  ContractedCost: (l) => l.ContractedCost,
  BillingCurrency: (l) => l.BillingCurrency,
  BillingPeriodStart: (l) => l.BillingPeriodStart,
  BillingPeriodEnd: (l) => l.BillingPeriodEnd,
  ChargePeriodStart: (l) => l.ChargePeriodStart,
  ChargePeriodEnd: (l) => l.ChargePeriodEnd,
  ChargeCategory: (l) => l.ChargeCategory,
  ChargeDescription: (l) => l.ChargeDescription,
  ProviderName: (l) => l.ProviderName,
  PublisherName: (l) => l.PublisherName,
  InvoiceIssuerName: (l) => l.InvoiceIssuerName,
  BillingAccountId: (l) => l.BillingAccountId,
  BillingAccountName: (l) => l.BillingAccountName,
  SubAccountId: (l) => l.SubAccountId,
  SubAccountName: (l) => l.SubAccountName,
  ServiceName: (l) => l.ServiceName,
  ServiceCategory: (l) => l.ServiceCategory,
  RegionId: (l) => l.RegionId,
  RegionName: (l) => l.RegionName,
  AvailabilityZone: (l) => l.AvailabilityZone,
  ResourceId: (l) => l.ResourceId,
  ResourceName: (l) => l.ResourceName,
  ResourceType: (l) => l.ResourceType,
  SkuId: (l) => l.SkuId,
  SkuPriceId: (l) => l.SkuPriceId,
  PricingUnit: (l) => l.PricingUnit,
  PricingQuantity: (l) => l.PricingQuantity,
  ConsumedQuantity: (l) => l.ConsumedQuantity,
  ConsumedUnit: (l) => l.ConsumedUnit,
  Tags: (l) => l.Tags,
  SourceName: (l) => l.SourceName,
  SourceFile: (l) => l.SourceFile,
  SourceLine: (l) => l.SourceLine,
};

const REQUIRED = Object.entries(FIELDS)
  .filter(([, required]) => required)
  .map(([name]) => name);

export const billingMapping: TopicMapping<BillingLine> = {
  topic: TOPICS.billing,
  tables: [
    {
      table: 'billing_focus',
      columns: (tableColumns) =>
        tableColumns
          .filter((name): name is keyof BillingLine => Object.hasOwn(FIELDS, name))
          .map((name): MappedColumn<BillingLine> => ({
            name,
            get: GETTERS[name],
            optional: !FIELDS[name],
          })),
    },
  ],
  route(r) {
    if (!isObject(r)) return 'billing line is not an object';
    // A loop first: the list (an array per row) is only built for a line that lacks something.
    let complete = true;
    for (const name of REQUIRED) {
      const v = r[name];
      if (v === undefined || v === null || v === '') complete = false;
    }
    if (!complete) {
      const missing = REQUIRED.filter((name) => r[name] === undefined || r[name] === null || r[name] === '');
      return `billing line without ${missing.join(', ')}`;
    }
    if (r.Tags !== undefined && !isObject(r.Tags)) return 'Tags must be an object of strings';
    return 0;
  },
};
