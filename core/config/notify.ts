import { z } from 'zod';

/**
 * `notify`: where incident events go (owned by correlate/notify/). Targets are named; routes
 * pick targets by what the incident is about. The first matching route wins unless it says
 * `continue: true`. Secrets (webhook secret, routing keys, Slack URLs) are masked by
 * `opsight config check` and never logged.
 */
const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a target name (letters, digits, _ . -)');

const webhook = z
  .object({
    name,
    type: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/ }),
    /** HMAC-SHA256 key: the body is signed in X-Opsight-Signature. */
    secret: z.string().min(16, 'a secret of at least 16 characters').optional(),
  })
  .strict();

const pagerduty = z
  .object({
    name,
    type: z.literal('pagerduty'),
    routingKey: z.string().min(1),
    /** The Events API v2 endpoint; change only for a proxy or a test server. */
    url: z.url({ protocol: /^https?$/ }).default('https://events.pagerduty.com/v2/enqueue'),
  })
  .strict();

const slack = z
  .object({
    name,
    type: z.literal('slack'),
    /** The incoming-webhook URL (it is the secret, so masked like one). */
    webhookUrl: z.url({ protocol: /^https?$/ }),
  })
  .strict();

const target = z.discriminatedUnion('type', [webhook, pagerduty, slack]);

const route = z
  .object({
    /** All given conditions must hold; none = every incident. */
    match: z
      .object({
        services: z.array(z.string()).optional(),
        ownerGroups: z.array(z.string()).optional(),
        priorities: z.array(z.enum(['P1', 'P2', 'P3', 'P4', 'P5'])).optional(),
        /** `cost` for cost-spike incidents, `service` for the rest. */
        kind: z.enum(['cost', 'service']).optional(),
        /** Label values any of the incident's alerts must carry. */
        labels: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .default({}),
    targets: z.array(name).min(1),
    continue: z.boolean().default(false),
  })
  .strict();

export const notifyConfig = z
  .object({
    targets: z.array(target).default([]),
    routes: z.array(route).default([]),
    /** Per target: at most `burst` pages at once, refilled at `perMinute`. Resolves always pass. */
    rateLimit: z
      .object({
        perMinute: z.number().positive().default(10),
        burst: z.number().int().positive().default(20),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(20).default(5),
        initialDelayMs: z.number().int().positive().default(500),
        timeoutMs: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})
  .superRefine((n, ctx) => {
    const names = new Set(n.targets.map((t) => t.name));
    if (names.size !== n.targets.length)
      ctx.addIssue({ code: 'custom', path: ['targets'], message: 'unique target names' });
    n.routes.forEach((r, i) =>
      r.targets.forEach((t, j) => {
        if (!names.has(t))
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'targets', j],
            message: `no target named ${t}`,
          });
      }),
    );
  });

export type NotifyConfig = z.infer<typeof notifyConfig>;
export type NotifyTarget = z.infer<typeof target>;
export type NotifyRoute = z.infer<typeof route>;
