import type { BillingLine } from '../../../core/model/records.ts';
import { FocusFileError } from '../focus.ts';
import type { BillingFormatReader, NativeRecord, NativeValue } from './types.ts';
import { emptyLine } from './types.ts';
import { Checked, RowProblem, at, guarded, score, textAt } from './values.ts';

/**
 * GCP Cloud Billing detailed (or standard) export -> FOCUS, per mappings.json `gcp`: rows as
 * BigQuery writes them to JSON lines or Parquet (RECORD fields nested, REPEATED fields as
 * lists; a flattened extract with dotted column names works too). Credits are nested in the
 * charged row and, as the mapping chooses, added into BilledCost and EffectiveCost. The billing
 * period is the invoice month in Pacific time.
 */

const REQUIRED = ['billing_account_id', 'cost', 'usage_start_time', 'usage_end_time'];
const SIGNATURE = [...REQUIRED, 'service', 'sku', 'invoice', 'cost_type', 'credits', 'currency', 'project'];

const CATEGORY: Record<string, string> = {
  regular: 'Usage',
  tax: 'Tax',
  adjustment: 'Adjustment',
  rounding_error: 'Adjustment',
};

/** Top-level names, also from a flattened header (`service.description` -> `service`). */
const roots = (columns: readonly string[]) => [...new Set(columns.map((c) => c.split('.')[0]!))];

const pacificStart = new Map<string, string>();

/** First instant of a YYYYMM month in America/Los_Angeles, as ISO UTC. */
export function pacificMonthStart(year: number, month: number): string {
  const key = `${year}-${month}`;
  let out = pacificStart.get(key);
  if (out) return out;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: 'America/Los_Angeles',
    hourCycle: 'h23',
    day: 'numeric',
    hour: 'numeric',
  });
  // Pacific midnight is 07:00 (PDT) or 08:00 (PST) UTC: the one that reads as day 1, hour 0.
  for (const h of [7, 8]) {
    const t = Date.UTC(year, month - 1, 1, h);
    const parts = Object.fromEntries(fmt.formatToParts(t).map((p) => [p.type, p.value]));
    if (Number(parts.day) === 1 && Number(parts.hour) === 0) out = new Date(t).toISOString();
  }
  out ??= new Date(Date.UTC(year, month - 1, 1, 8)).toISOString();
  pacificStart.set(key, out);
  return out;
}

function list(v: NativeValue | undefined, what: string): NativeRecord[] {
  if (v === null || v === undefined || v === '') return [];
  if (!Array.isArray(v)) throw new RowProblem(`${what} is not a list`);
  return v.filter((x): x is NativeRecord => x !== null && typeof x === 'object' && !Array.isArray(x));
}

/** [{key, value}] label lists (labels, system_labels, project.labels, tags) into one map. */
function labels(rec: NativeRecord): Record<string, string> {
  const out: Record<string, string> = {};
  // Broader first, so a resource's own label wins over its project's.
  for (const path of ['project.labels', 'tags', 'system_labels', 'labels'])
    for (const kv of list(at(rec, path), path)) {
      const k = textAt(kv, 'key');
      const v = kv.value;
      if (k !== undefined && typeof v === 'string') out[k] = v;
    }
  return out;
}

export const gcpReader: BillingFormatReader = {
  format: 'gcp',
  detect: (columns) => score(roots(columns), REQUIRED, SIGNATURE),
  open(columns, ctx) {
    const missing = REQUIRED.filter((c) => !roots(columns).includes(c));
    if (missing.length)
      throw new FocusFileError(`${ctx.sourceFile}: not a GCP billing export: lacks ${missing.join(', ')}`);
    const c = new Checked();
    return (rec, line) =>
      guarded((): BillingLine => {
        const get = (p: string) => textAt(rec, p);
        const cost = c.decimal(get('cost'), 'cost');
        const credits = list(at(rec, 'credits'), 'credits');
        const amounts = credits.map((cr, i) => c.decimal(textAt(cr, 'amount'), `credits[${i}].amount`));
        const net = c.sum([cost, ...amounts], 'BilledCost');
        const month = get('invoice.month');
        const m = month ? /^(\d{4})(\d{2})$/.exec(month.trim()) : null;
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 12)
          throw new RowProblem(`invoice.month = ${JSON.stringify(month ?? null)}: not YYYYMM`);
        const costType = get('cost_type') ?? 'regular';
        const category = CATEGORY[costType];
        if (!category) throw new RowProblem(`cost_type = ${JSON.stringify(costType)}: not a known cost type`);
        const regular = costType === 'regular';
        const l = emptyLine(ctx, line);
        l.BilledCost = net;
        l.EffectiveCost = net;
        l.ListCost = c.decimal(get('cost_at_list'), 'cost_at_list', '0');
        l.ContractedCost = cost;
        l.BillingCurrency = get('currency') ?? 'XXX';
        l.BillingPeriodStart = pacificMonthStart(Number(m[1]), Number(m[2]));
        l.BillingPeriodEnd = pacificMonthStart(
          Number(m[1]) + (m[2] === '12' ? 1 : 0),
          (Number(m[2]) % 12) + 1,
        );
        l.ChargePeriodStart = c.date(get('usage_start_time'), 'usage_start_time');
        l.ChargePeriodEnd = c.date(get('usage_end_time'), 'usage_end_time');
        l.ChargeCategory = category;
        l.ChargeDescription = get('sku.description');
        l.ProviderName = 'Google Cloud';
        l.PublisherName = get('transaction_type') === 'GOOGLE' ? 'Google Cloud' : get('seller_name');
        l.InvoiceIssuerName = 'Google Cloud';
        l.BillingAccountId = get('billing_account_id');
        l.SubAccountId = get('project.id');
        l.SubAccountName = get('project.name');
        l.ServiceName = get('service.description') ?? 'unknown';
        l.RegionId = get('location.region') ?? get('location.location');
        l.AvailabilityZone = get('location.zone');
        l.ResourceId = get('resource.global_name');
        l.ResourceName = get('resource.name');
        // //<service>.googleapis.com/.../<type>/<name>: the collection before the name.
        const parts = l.ResourceId?.split('/').filter(Boolean);
        if (parts && parts.length >= 3) l.ResourceType = parts[parts.length - 2];
        const sku = get('sku.id');
        if (regular) {
          l.SkuId = sku;
          l.PricingQuantity = c.optionalDecimal(
            get('usage.amount_in_pricing_units'),
            'usage.amount_in_pricing_units',
          );
          l.PricingUnit = get('usage.pricing_unit');
          l.ConsumedQuantity = c.optionalDecimal(get('usage.amount'), 'usage.amount');
          l.ConsumedUnit = get('usage.unit');
        }
        const tier = get('price.tier_start_amount');
        if (sku && tier !== undefined) l.SkuPriceId = `${l.BillingAccountId ?? ''}/${sku}/${tier}`;
        l.Tags = labels(rec);
        return l;
      });
  },
};
