import { z } from 'zod';

/** `correlate`: alert intake, dedup, grouping into incidents (owned by correlate/). */
const seconds = z.number().positive();

const rule = z
  .object({
    name: z.string().min(1),
    /** Alerts with equal values of all these labels join one incident within windowSeconds. */
    labels: z.array(z.string().min(1)).min(1),
    windowSeconds: seconds.default(300),
  })
  .strict();

export const correlateConfig = z
  .object({
    /** An alert joins an open incident last seen at most this long ago... */
    groupWindowSeconds: seconds.default(600),
    /** ...when their CIs are at most this many dependency hops apart. */
    maxHops: z.number().int().min(0).max(10).default(2),
    /** A resolved alert firing again within this window goes back to (and re-opens) its incident. */
    flapWindowSeconds: seconds.default(900),
    /** An incident whose alerts all stayed resolved this long resolves itself. */
    quietPeriodSeconds: seconds.default(600),
    /** Changes on affected CIs up to this long before onset are suspects. */
    changeWindowSeconds: seconds.default(7200),
    rules: z.array(rule).default([]),
    /**
     * Labels that identify an alert from the generic API when it brings no fingerprint; empty =
     * all labels. Alertmanager's own fingerprint is always kept.
     */
    fingerprintLabels: z.array(z.string().min(1)).default([]),
    /** Known errors scoring below this are not attached. */
    kedbThreshold: z.number().min(0).max(1).default(0.6),
    /** How often incidents are checked for auto-resolve and the CMDB is re-read. */
    tickSeconds: seconds.default(10),
  })
  .strict()
  .prefault({});

export type CorrelateConfig = z.infer<typeof correlateConfig>;
