import { z } from 'zod';

/** billing_focus columns a cost series may be split by (identifiers, so a closed list). */
export const COST_DIMENSIONS = [
  'ProviderName',
  'BillingAccountId',
  'SubAccountId',
  'ServiceName',
  'ServiceCategory',
  'RegionId',
] as const;
export type CostDimension = (typeof COST_DIMENSIONS)[number];

/** The scoring knobs a service may override. */
const thresholds = {
  /** Robust standard deviations above the expected amount before a period is unusual. */
  sensitivity: z.number().positive(),
  /** Minimum relative increase over the expected amount (0.5 = +50%). */
  relativeThreshold: z.number().nonnegative(),
  /** Minimum absolute increase, in the billing currency, per period (day or hour). */
  minIncrease: z.number().nonnegative(),
};

const serviceOverride = z
  .object({
    enabled: z.boolean().optional(),
    sensitivity: thresholds.sensitivity.optional(),
    relativeThreshold: thresholds.relativeThreshold.optional(),
    minIncrease: thresholds.minIncrease.optional(),
  })
  .strict();

/** `detect.cost`: cost spikes in billing_focus (owned by detect/cost/). */
export const costDetectConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** How often billing_focus is re-read for new or restated periods. */
    intervalSeconds: z.number().positive().default(300),
    granularity: z.enum(['daily', 'hourly']).default('daily'),
    /** One cost series per distinct value of these columns (and the billing currency). */
    dimensions: z
      .array(z.enum(COST_DIMENSIONS))
      .min(1)
      .default(['ProviderName', 'SubAccountId', 'ServiceName']),
    /** Tag keys (Tags map) added to the series identity, e.g. [team, env]. */
    tagKeys: z.array(z.string().min(1).max(200)).max(5).default([]),
    /** Which FOCUS cost column; BilledCost is what the invoice shows. */
    costColumn: z.enum(['BilledCost', 'EffectiveCost', 'ListCost']).default('BilledCost'),
    sensitivity: thresholds.sensitivity.default(4),
    relativeThreshold: thresholds.relativeThreshold.default(0.5),
    minIncrease: thresholds.minIncrease.default(20),
    /** Per BillingCurrency, overriding minIncrease (e.g. JPY: 3000). */
    minIncreaseByCurrency: z.record(z.string(), z.number().nonnegative()).default({}),
    /** Days of history (since the series first had cost) before a period is scored. */
    minHistory: z.number().int().positive().default(14),
    /** Days of history the baseline looks back over. */
    lookbackDays: z.number().int().positive().max(120).default(28),
    /** Days at the start of a month compared with the same days of earlier months. */
    monthStartDays: z.number().int().nonnegative().max(5).default(1),
    /** Recent days re-checked for late or restated data; older alerts resolve as they leave it. */
    rescoreDays: z.number().int().positive().max(120).default(35),
    /** Most driver lines (SKU, resource, region) named in an alert. */
    maxDrivers: z.number().int().positive().max(20).default(5),
    /** Per ServiceName: different thresholds, or enabled: false. */
    services: z.record(z.string(), serviceOverride).default({}),
  })
  .strict()
  .prefault({});

export type CostDetectConfig = z.infer<typeof costDetectConfig>;
export type CostServiceOverride = z.infer<typeof serviceOverride>;
