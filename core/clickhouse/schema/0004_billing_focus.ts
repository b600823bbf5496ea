import type { Migration } from '../ddl.ts';
import { ATTRS, LC, ZSTD, col } from './columns.ts';

// FOCUS exports carry up to 15 decimal places (quantities, some costs); 23 integer digits remain.
const money = 'Decimal(38, 15)';
const period = "DateTime64(3, 'UTC')";

/**
 * FOCUS billing lines, one column per BillingLine field under its FOCUS name. Money stays
 * Decimal end to end (no float drift in sums); month partitions match billing periods, so a
 * restated month is one partition to replace.
 */
export const billingFocus: Migration = {
  version: 4,
  name: 'billing_focus',
  tables: [
    {
      name: 'billing_focus',
      columns: [
        col('BilledCost', money, ZSTD),
        col('EffectiveCost', money, ZSTD),
        col('ListCost', money, ZSTD),
        col('ContractedCost', money, ZSTD),
        col('BillingCurrency', LC, ZSTD),
        col('BillingPeriodStart', period, 'Delta, ZSTD(1)'),
        col('BillingPeriodEnd', period, 'Delta, ZSTD(1)'),
        col('ChargePeriodStart', period, 'Delta, ZSTD(1)'),
        col('ChargePeriodEnd', period, 'Delta, ZSTD(1)'),
        col('ChargeCategory', LC, ZSTD),
        col('ChargeDescription', 'String', ZSTD),
        col('ProviderName', LC, ZSTD),
        col('PublisherName', LC, ZSTD),
        col('InvoiceIssuerName', LC, ZSTD),
        col('BillingAccountId', LC, ZSTD),
        col('BillingAccountName', LC, ZSTD),
        col('SubAccountId', LC, ZSTD),
        col('SubAccountName', LC, ZSTD),
        col('ServiceName', LC, ZSTD),
        col('ServiceCategory', LC, ZSTD),
        col('RegionId', LC, ZSTD),
        col('RegionName', LC, ZSTD),
        col('AvailabilityZone', LC, ZSTD),
        col('ResourceId', 'String', ZSTD),
        col('ResourceName', 'String', ZSTD),
        col('ResourceType', LC, ZSTD),
        col('SkuId', LC, ZSTD),
        col('SkuPriceId', 'String', ZSTD),
        col('PricingUnit', LC, ZSTD),
        col('PricingQuantity', money, ZSTD),
        col('ConsumedQuantity', money, ZSTD),
        col('ConsumedUnit', LC, ZSTD),
        col('Tags', ATTRS, ZSTD),
        col('SourceName', LC, ZSTD),
        col('SourceFile', LC, ZSTD),
        col('SourceLine', 'UInt64', 'Delta, ZSTD(1)'),
      ],
      indexes: [
        'idx_resource_id ResourceId TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_tag_key mapKeys(Tags) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_tag_value mapValues(Tags) TYPE bloom_filter(0.01) GRANULARITY 1',
        'idx_source_file SourceFile TYPE set(1000) GRANULARITY 1',
      ],
      engine: 'MergeTree',
      partitionBy: 'toYYYYMM(ChargePeriodStart)',
      primaryKey: '(ProviderName, SubAccountId, ServiceName, ChargePeriodStart)',
      orderBy: '(ProviderName, SubAccountId, ServiceName, ChargePeriodStart, RegionId, ResourceId, SkuId)',
      ttl: { on: 'toDateTime(ChargePeriodStart)', days: 'billing' },
      settings: { ttl_only_drop_parts: 1 },
      // Lines of a file spread evenly; the same line always goes to the same shard on replay.
      shardingKey: 'cityHash64(SourceFile, SourceLine)',
    },
  ],
};
