import { z } from 'zod';

/** `detect.logs`: template mining over opsight.logs, new error templates and surges (detect/logs/). */
export const logsDetectConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** Severity number (OTel) from which a new template alerts: 17 = ERROR. */
    newTemplateSeverity: z.number().int().min(1).max(24).default(17),
    /** Alerts on surging templates (rate against its own per-minute baseline). */
    surges: z.boolean().default(true),
    /** Minutes without a repeat after which a template alert resolves. */
    quietMinutes: z.number().positive().default(10),
  })
  .strict()
  .prefault({});

export type LogsDetectConfig = z.infer<typeof logsDetectConfig>;
