import type { BillingLine } from '../../../core/model/records.ts';
import { FocusFileError } from '../focus.ts';
import type { BillingFormatReader } from './types.ts';
import { emptyLine } from './types.ts';
import { Checked, guarded, monthStart, score, text } from './values.ts';

/**
 * OCI cost report (reports/cost-csv) -> FOCUS, per mappings.json `oci`: cost/myCost for both
 * costs, the billing period is the UTC month of the usage hour, tags are the
 * `tags/<namespace>.<key>` columns. The mapping has no charge category: cost reports carry
 * usage only, so every row is Usage (a correction, lineItem/isCorrection, included).
 */

const REQUIRED = ['lineItem/intervalUsageStart', 'lineItem/intervalUsageEnd', 'cost/myCost'];
const SIGNATURE = [
  ...REQUIRED,
  'cost/currencyCode',
  'product/service',
  'product/compartmentId',
  'cost/productSku',
];

export const ociReader: BillingFormatReader = {
  format: 'oci',
  detect: (columns) => score(columns, REQUIRED, SIGNATURE),
  open(columns, ctx) {
    const missing = REQUIRED.filter((col) => !columns.includes(col));
    if (missing.length)
      throw new FocusFileError(`${ctx.sourceFile}: not an OCI cost report: lacks ${missing.join(', ')}`);
    const tagColumns = columns.filter((col) => col.startsWith('tags/'));
    const c = new Checked();
    return (rec, line) =>
      guarded((): BillingLine => {
        const get = (n: string) => text(rec[n]);
        const cost = c.decimal(get('cost/myCost'), 'cost/myCost');
        const l = emptyLine(ctx, line);
        l.BilledCost = cost;
        l.EffectiveCost = cost;
        l.BillingCurrency = get('cost/currencyCode') ?? 'XXX';
        l.ChargePeriodStart = c.date(get('lineItem/intervalUsageStart'), 'lineItem/intervalUsageStart');
        l.ChargePeriodEnd = c.date(get('lineItem/intervalUsageEnd'), 'lineItem/intervalUsageEnd');
        l.BillingPeriodStart = monthStart(l.ChargePeriodStart);
        l.BillingPeriodEnd = monthStart(l.ChargePeriodStart, 1);
        l.ChargeCategory = 'Usage';
        l.ChargeDescription = get('product/Description');
        l.ProviderName = 'Oracle';
        l.InvoiceIssuerName = 'Oracle';
        l.PublisherName = 'Oracle';
        l.BillingAccountId = get('cost/subscriptionId');
        l.SubAccountId = get('product/compartmentId');
        l.SubAccountName = get('product/compartmentName');
        l.ServiceName = get('product/service') ?? 'unknown';
        l.RegionId = get('product/region');
        l.AvailabilityZone = get('product/availabilityDomain');
        l.ResourceId = get('product/resourceId');
        l.SkuId = get('cost/productSku');
        l.PricingUnit = get('cost/skuUnitDescription');
        l.ConsumedUnit = l.PricingUnit;
        l.ConsumedQuantity = c.optionalDecimal(get('usage/billedQuantity'), 'usage/billedQuantity');
        l.PricingQuantity = l.ConsumedQuantity;
        const tags: Record<string, string> = {};
        for (const col of tagColumns) {
          const v = get(col);
          if (v !== undefined) tags[col.slice(5)] = v;
        }
        l.Tags = tags;
        return l;
      });
  },
};
