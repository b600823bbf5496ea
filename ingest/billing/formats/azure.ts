import type { BillingLine } from '../../../core/model/records.ts';
import { FocusFileError } from '../focus.ts';
import type { BillingFormatReader } from './types.ts';
import { emptyLine } from './types.ts';
import {
  Checked,
  RowProblem,
  addDays,
  guarded,
  monthStart,
  score,
  shiftDecimal,
  tagsFromJsonText,
  text,
} from './values.ts';

/**
 * Azure Cost Management "cost and usage details" export (EA and MCA) -> FOCUS, per
 * mappings.json `azure`. Names differ by agreement and age: the cost is CostInBillingCurrency
 * (older EA: Cost), the currency BillingCurrencyCode (EA) or BillingCurrency (MCA, older EA).
 * Dates are M/D/YYYY (or ISO); Tags come without outer braces. The lookup tables the mapping
 * names (ServiceName, RegionName, PricingUnit) are not shipped: ServiceName is MeterCategory,
 * RegionId the lower-cased ResourceLocation, PricingUnit the unit text of UnitOfMeasure.
 */

const COST = ['CostInBillingCurrency', 'Cost'];
const SIGNATURE = [
  'Date',
  'ChargeType',
  'MeterCategory',
  'SubscriptionId',
  'UnitOfMeasure',
  'BillingPeriodStartDate',
];

function costColumn(columns: readonly string[]): string | undefined {
  return COST.find((c) => columns.includes(c));
}

const CATEGORY = new Set(['Usage', 'Purchase', 'Credit', 'Tax']);

function chargeCategory(type: string | undefined): string {
  if (type === undefined) return 'Usage';
  if (CATEGORY.has(type)) return type;
  if (type === 'UnusedReservation' || type === 'UnusedSavingsPlan') return 'Usage';
  if (type === 'Refund') return 'Purchase';
  return 'Adjustment';
}

/** `10K Hours` -> [4, 'Hours']: the block as a power of ten (x_PricingBlockSize) and the unit. */
function unitOfMeasure(v: string): { pow10?: number; unit: string } {
  const m = /^\s*(\d+)\s*([KM]?)\s*(.*)$/.exec(v);
  if (!m) return { pow10: 0, unit: v };
  const n = Number(m[1]) * (m[2] === 'K' ? 1e3 : m[2] === 'M' ? 1e6 : 1);
  const pow = Math.log10(n);
  return { pow10: Number.isInteger(pow) ? pow : undefined, unit: m[3] || v };
}

export const azureReader: BillingFormatReader = {
  format: 'azure',
  detect(columns) {
    const cost = costColumn(columns);
    return cost ? score(columns, ['Date', cost], SIGNATURE) : 0;
  },
  open(columns, ctx) {
    const cost = costColumn(columns);
    if (!cost || !columns.includes('Date'))
      throw new FocusFileError(
        `${ctx.sourceFile}: not an Azure cost export: lacks Date or CostInBillingCurrency/Cost`,
      );
    // MCA has pricing-currency columns EA lacks; EA (even with BillingProfileId) does not.
    const mca = columns.includes('PricingCurrency') || columns.includes('PaygCostInBillingCurrency');
    const currency = ['BillingCurrencyCode', 'BillingCurrency'].find((n) => columns.includes(n));
    const c = new Checked();
    return (rec, line) =>
      guarded((): BillingLine => {
        const get = (n: string) => text(rec[n]);
        const type = get('ChargeType');
        const pricingModel = get('PricingModel');
        const billed = c.decimal(get(cost), cost);
        const day = c.date(get('Date'), 'Date');
        const l = emptyLine(ctx, line);
        l.BilledCost = billed;
        l.EffectiveCost =
          (type === 'Purchase' || type === 'Refund') &&
          (pricingModel === 'Reservation' || pricingModel === 'SavingsPlan')
            ? '0'
            : billed;
        if (mca) l.ListCost = c.decimal(get('PaygCostInBillingCurrency'), 'PaygCostInBillingCurrency', '0');
        l.BillingCurrency = (currency && get(currency)) ?? 'XXX';
        const periodStart = get('BillingPeriodStartDate');
        l.BillingPeriodStart = periodStart ? c.date(periodStart, 'BillingPeriodStartDate') : monthStart(day);
        const periodEnd = get('BillingPeriodEndDate');
        l.BillingPeriodEnd = periodEnd
          ? addDays(c.date(periodEnd, 'BillingPeriodEndDate'), 1)
          : monthStart(l.BillingPeriodStart, 1);
        l.ChargePeriodStart = day;
        l.ChargePeriodEnd = addDays(day, 1);
        l.ChargeCategory = chargeCategory(type);
        l.ChargeDescription = get('ProductName') ?? get('Product');
        l.ProviderName = 'Microsoft';
        l.PublisherName = get('PublisherName');
        l.InvoiceIssuerName = get('PartnerName') ?? 'Microsoft';
        l.BillingAccountId = mca ? get('BillingProfileId') : get('BillingAccountId');
        l.BillingAccountName = mca ? get('BillingProfileName') : get('BillingAccountName');
        const sub = get('SubscriptionId');
        l.SubAccountId = sub && `/subscriptions/${sub}`;
        l.SubAccountName = get('SubscriptionName');
        l.ServiceName = get('MeterCategory') ?? get('ConsumedService') ?? 'unknown';
        const location = get('ResourceLocation');
        l.RegionId = location?.replace(/\s+/g, '').toLowerCase();
        l.AvailabilityZone = get('AvailabilityZone');
        l.ResourceId = get('ResourceId');
        l.ResourceName = mca ? l.ResourceId?.split('/').pop() : get('ResourceName');
        if (mca) l.SkuId = get('ProductId');
        const quantity = c.optionalDecimal(get('Quantity'), 'Quantity');
        const uom = get('UnitOfMeasure');
        if (uom) {
          const { pow10, unit } = unitOfMeasure(uom);
          l.PricingUnit = unit;
          if (quantity !== undefined && pow10 !== undefined)
            l.PricingQuantity = shiftDecimal(quantity, pow10);
        }
        if (type === 'Usage') {
          l.ConsumedQuantity = quantity;
          l.ConsumedUnit = l.PricingUnit;
        }
        const tags = get('Tags');
        if (tags) {
          const parsed = tagsFromJsonText(tags);
          if (typeof parsed === 'string') throw new RowProblem(`Tags: ${parsed}`);
          l.Tags = parsed;
        }
        return l;
      });
  },
};
