import { z } from 'zod';

/** `detect.cost`: cost spikes in billing_focus (owned by detect/cost/). */
export const costDetectConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** How often billing_focus is re-read for new or restated periods. */
    intervalSeconds: z.number().positive().default(300),
  })
  .strict()
  .prefault({});

export type CostDetectConfig = z.infer<typeof costDetectConfig>;
