import type { BillingLine } from '../../../core/model/records.ts';
import { FocusFileError } from '../focus.ts';
import type { BillingFormatReader, NativeRecord, NativeValue } from './types.ts';
import { emptyLine } from './types.ts';
import { Checked, RowProblem, guarded, score, stringMap, text } from './values.ts';

/**
 * AWS Cost and Usage Report -> FOCUS, per /work/shared/data/focus/mappings.json `aws`.
 * CUR 2.0 (snake_case columns; product/resource_tags as maps, or JSON text in CSV) is the
 * native shape; a legacy CUR header (`lineItem/UsageStartDate`) is renamed to it first:
 * `category/Attribute` -> snake_case `category_attribute`, `product/*` also into the product
 * map, `resourceTags/user:x` into resource_tags as `user_x`.
 */

const REQUIRED = [
  'line_item_line_item_type',
  'line_item_usage_start_date',
  'line_item_usage_end_date',
  'line_item_unblended_cost',
];
const SIGNATURE = [
  ...REQUIRED,
  'bill_billing_period_start_date',
  'bill_payer_account_id',
  'line_item_currency_code',
  'line_item_product_code',
  'line_item_usage_account_id',
];

const snake = (s: string) =>
  s
    .replace(/([A-Z])/g, '_$1')
    .toLowerCase()
    .replace(/^_/, '');

/** Legacy header -> CUR 2.0 name (a CUR 2.0 name is returned as is). */
export function cur2Name(column: string): string {
  const slash = column.indexOf('/');
  if (slash < 0) return column;
  return `${snake(column.slice(0, slash))}_${snake(column.slice(slash + 1))}`;
}

const PURCHASE = new Set(['Fee', 'RIFee', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee']);
const CONSUMED = new Set(['Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage']);

function chargeCategory(type: string): string {
  if (type === 'Tax') return 'Tax';
  if (PURCHASE.has(type)) return 'Purchase';
  if (type === 'Credit') return 'Credit';
  if (type === 'Refund') return 'Adjustment';
  return 'Usage';
}

/** A map column: a record (Parquet MAP) or JSON object text (CUR 2.0 CSV). */
function mapValue(v: NativeValue | undefined, column: string): Record<string, string> {
  if (v === null || v === undefined || v === '') return {};
  if (typeof v === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new RowProblem(`${column} is not a JSON object`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new RowProblem(`${column} is not a JSON object`);
    return stringMap(parsed as Record<string, unknown>);
  }
  if (Array.isArray(v)) throw new RowProblem(`${column} is a list, expected a map`);
  return stringMap(v);
}

export const awsCurReader: BillingFormatReader = {
  format: 'aws-cur',
  detect: (columns) => score(columns.map(cur2Name), REQUIRED, SIGNATURE),
  open(columns, ctx) {
    const names = columns.map(cur2Name);
    const have = new Set(names);
    const missing = REQUIRED.filter((c) => !have.has(c));
    if (missing.length)
      throw new FocusFileError(`${ctx.sourceFile}: not an AWS CUR file: lacks ${missing.join(', ')}`);
    const legacy = columns.some((c) => c.includes('/'));
    const c = new Checked();
    /** CUR 2.0 view of a record: renamed columns, product and resource_tags maps. */
    const view = (rec: NativeRecord) => {
      if (!legacy) {
        return {
          get: (n: string) => text(rec[n]),
          product: mapValue(rec.product, 'product'),
          tags: mapValue(rec.resource_tags, 'resource_tags'),
        };
      }
      const flat: Record<string, string | undefined> = {};
      const product: Record<string, string> = {};
      const tags: Record<string, string> = {};
      columns.forEach((col, i) => {
        const v = text(rec[col]);
        if (col.startsWith('resourceTags/')) {
          if (v !== undefined) tags[col.slice(13).replace(/^user:/, 'user_')] = v;
          return;
        }
        flat[names[i]!] = v;
        if (col.startsWith('product/') && v !== undefined) product[snake(col.slice(8))] = v;
      });
      return { get: (n: string) => flat[n], product, tags };
    };
    return (rec, line) =>
      guarded((): BillingLine => {
        const { get, product, tags } = view(rec);
        const type = get('line_item_line_item_type') ?? '';
        const unblended = c.decimal(get('line_item_unblended_cost'), 'line_item_unblended_cost');
        const billed = c.decimal(
          get('line_item_net_unblended_cost'),
          'line_item_net_unblended_cost',
          unblended,
        );
        const num = (n: string) => c.decimal(get(n), n, '0');
        let effective: string;
        switch (type) {
          case 'SavingsPlanCoveredUsage':
            effective = num('savings_plan_savings_plan_effective_cost');
            break;
          case 'SavingsPlanRecurringFee':
            effective = c.sum(
              [num('savings_plan_total_commitment_to_date'), num('savings_plan_used_commitment')],
              'EffectiveCost',
              [false, true],
            );
            break;
          case 'SavingsPlanNegation':
          case 'SavingsPlanUpfrontFee':
            effective = '0';
            break;
          case 'DiscountedUsage':
            effective = num('reservation_effective_cost');
            break;
          case 'RIFee':
            effective = c.sum(
              [
                num('reservation_unused_amortized_upfront_fee_for_billing_period'),
                num('reservation_unused_recurring_fee'),
              ],
              'EffectiveCost',
            );
            break;
          default:
            effective = type === 'Fee' && get('reservation_reservation_a_r_n') ? '0' : unblended;
        }
        const l = emptyLine(ctx, line);
        l.BilledCost = billed;
        l.EffectiveCost = effective;
        l.ListCost = num('pricing_public_on_demand_cost');
        l.ContractedCost = unblended;
        l.BillingCurrency = get('line_item_currency_code') ?? 'XXX';
        l.BillingPeriodStart = c.date(
          get('bill_billing_period_start_date'),
          'bill_billing_period_start_date',
        );
        l.BillingPeriodEnd = c.date(get('bill_billing_period_end_date'), 'bill_billing_period_end_date');
        l.ChargePeriodStart = c.date(get('line_item_usage_start_date'), 'line_item_usage_start_date');
        l.ChargePeriodEnd = c.date(get('line_item_usage_end_date'), 'line_item_usage_end_date');
        l.ChargeCategory = chargeCategory(type);
        l.ChargeDescription = get('line_item_line_item_description');
        l.ProviderName = 'AWS';
        l.PublisherName = get('line_item_legal_entity');
        l.InvoiceIssuerName = get('bill_invoicing_entity');
        l.BillingAccountId = get('bill_payer_account_id');
        l.BillingAccountName = get('bill_payer_account_name');
        l.SubAccountId = get('line_item_usage_account_id');
        l.SubAccountName = get('line_item_usage_account_name');
        l.ServiceName = product.product_name ?? get('line_item_product_code') ?? 'unknown';
        l.RegionId = get('product_region_code') ?? product.region_code;
        l.RegionName = get('product_location') ?? product.location;
        l.AvailabilityZone = get('line_item_availability_zone');
        l.ResourceId = get('line_item_resource_id');
        l.SkuId = get('product_sku') ?? product.sku;
        l.SkuPriceId = get('pricing_rate_code') ?? get('pricing_rate_id');
        l.PricingUnit = get('pricing_unit');
        l.PricingQuantity = c.optionalDecimal(get('line_item_usage_amount'), 'line_item_usage_amount');
        if (CONSUMED.has(type)) {
          l.ConsumedQuantity = l.PricingQuantity;
          l.ConsumedUnit = l.PricingUnit;
        }
        l.Tags = tags;
        return l;
      });
  },
};
