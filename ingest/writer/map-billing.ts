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
            get: (line) => line[name],
            optional: !FIELDS[name],
          })),
    },
  ],
  route(r) {
    if (!isObject(r)) return 'billing line is not an object';
    const missing = REQUIRED.filter((name) => r[name] === undefined || r[name] === null || r[name] === '');
    if (missing.length) return `billing line without ${missing.join(', ')}`;
    if (r.Tags !== undefined && !isObject(r.Tags)) return 'Tags must be an object of strings';
    return 0;
  },
};
