import type { DemoService } from '../estate.ts';
import { effects, type Conditions } from '../faults.ts';
import { hashSeed, Random } from '../random.ts';
import { traffic } from './season.ts';

/**
 * Synthetic application logs as JSON lines (what Fluent Bit or Vector would ship to
 * /api/v1/logs/jsonl): a few INFO/WARN templates per service with variable parts, at a rate
 * that follows the traffic. Counts per minute stay single-digit and smooth (a fractional
 * carry, no bursts), so ordinary templates never look like a surge; faults add ERROR lines.
 */

interface Template {
  level: 'info' | 'warn';
  /** Lines per minute at the daily mean. */
  perMinute: number;
  text: (r: Random) => string;
}

const id = (r: Random, prefix: string) => `${prefix}-${r.int(100000, 999999)}`;

const APP_TEMPLATES: Record<string, Template[]> = {
  storefront: [
    {
      level: 'info',
      perMinute: 3,
      text: (r) => `rendered page /product/${r.int(1000, 9999)} in ${r.int(40, 180)} ms`,
    },
    {
      level: 'info',
      perMinute: 1,
      text: (r) => `session ${id(r, 'sess')} started from ${r.pick(['DE', 'FR', 'US', 'GB'])}`,
    },
  ],
  catalog: [
    {
      level: 'info',
      perMinute: 3,
      text: (r) => `served product ${id(r, 'sku')} from cache in ${r.int(2, 20)} ms`,
    },
    { level: 'warn', perMinute: 0.5, text: (r) => `slow query on catalog-db took ${r.int(300, 900)} ms` },
  ],
  search: [
    {
      level: 'info',
      perMinute: 2,
      text: (r) => `query returned ${r.int(0, 400)} hits in ${r.int(20, 200)} ms`,
    },
  ],
  cart: [
    { level: 'info', perMinute: 2, text: (r) => `cart ${id(r, 'cart')} updated with ${r.int(1, 9)} items` },
  ],
  recommendation: [
    {
      level: 'info',
      perMinute: 2,
      text: (r) => `computed ${r.int(5, 40)} recommendations for user ${id(r, 'u')} in ${r.int(10, 90)} ms`,
    },
  ],
  'user-profile': [
    { level: 'info', perMinute: 1, text: (r) => `profile ${id(r, 'u')} loaded in ${r.int(2, 30)} ms` },
  ],
  checkout: [
    {
      level: 'info',
      perMinute: 1.5,
      text: (r) => `checkout ${id(r, 'co')} completed, total ${r.int(10, 400)}.${r.int(10, 99)} EUR`,
    },
  ],
  orders: [
    { level: 'info', perMinute: 2, text: (r) => `order ${id(r, 'ord')} created with ${r.int(1, 6)} lines` },
  ],
  payments: [
    {
      level: 'info',
      perMinute: 1.5,
      text: (r) => `payment ${id(r, 'pay')} authorised by provider in ${r.int(120, 600)} ms`,
    },
  ],
  invoicing: [
    { level: 'info', perMinute: 1, text: (r) => `invoice ${id(r, 'inv')} issued for order ${id(r, 'ord')}` },
  ],
  inventory: [
    {
      level: 'info',
      perMinute: 1.5,
      text: (r) => `stock for ${id(r, 'sku')} reserved, ${r.int(0, 500)} left`,
    },
  ],
};

const INFRA_TEMPLATES: Record<string, Template[]> = {
  postgres: [
    {
      level: 'info',
      perMinute: 0.2,
      text: (r) =>
        `checkpoint complete: wrote ${r.int(100, 9000)} buffers (${r.int(1, 30)}.${r.int(0, 9)}%); distance=${r.int(1000, 90000)} kB`,
    },
  ],
  redis: [
    {
      level: 'info',
      perMinute: 0.2,
      text: (r) => `Background saving terminated with success, ${r.int(1000, 90000)} keys`,
    },
  ],
  kafka: [
    {
      level: 'info',
      perMinute: 0.2,
      text: (r) => `Rolled new log segment for orders-${r.int(0, 11)} in ${r.int(1, 20)} ms`,
    },
  ],
};

export interface LogLine {
  timestamp: number;
  level: string;
  message: string;
  'service.name': string;
  'host.name': string;
}

export class LogsGenerator {
  private readonly carry = new Map<string, number>();
  private readonly rng = new Map<string, Random>();

  constructor(
    private readonly services: readonly DemoService[],
    private readonly seed: number,
  ) {}

  private random(key: string): Random {
    let r = this.rng.get(key);
    if (!r) this.rng.set(key, (r = new Random(hashSeed(this.seed, key))));
    return r;
  }

  /** The lines of the step ending at `t` (their times spread inside the step). */
  lines(t: number, stepMs: number, c: Conditions): LogLine[] {
    const out: LogLine[] = [];
    const minutes = stepMs / 60_000;
    for (const svc of this.services) {
      const r = this.random(svc.name);
      const host = `${svc.name}-${(hashSeed(this.seed, svc.name) % 0xfffff).toString(16)}`;
      const e = effects(svc.name, t, c);
      const templates =
        svc.kind === 'app' ? (APP_TEMPLATES[svc.name] ?? []) : (INFRA_TEMPLATES[svc.kind] ?? []);
      const emit = (key: string, perMinute: number, level: string, text: () => string) => {
        const due = (this.carry.get(key) ?? 0) + perMinute * minutes;
        const n = Math.floor(due);
        this.carry.set(key, due - n);
        for (let i = 0; i < n; i++)
          out.push({
            timestamp: Math.round(t - stepMs + ((i + 0.5) * stepMs) / n),
            level,
            message: text(),
            'service.name': svc.name,
            'host.name': host,
          });
      };
      if (!e.down)
        templates.forEach((tp, i) =>
          emit(`${svc.name}|${i}`, tp.perMinute * traffic(t), tp.level, () => tp.text(r)),
        );
      e.errorLogs.forEach(([level, text], i) => emit(`${svc.name}|err${i}`, 6, level, () => text));
    }
    return out.sort((a, b) => a.timestamp - b.timestamp);
  }
}
