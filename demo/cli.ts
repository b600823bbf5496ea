import type { Config } from '../core/config/schema.ts';
import { DemoError, runDemo } from './run.ts';

/** `opsight demo`: runs the demo, prints as it goes; exit code 0 when every incident formed. */
export async function runDemoCommand(
  config: Config,
  opts: { speed?: string; seed?: string; hours?: string; reset?: boolean; keepRunning?: boolean },
): Promise<number> {
  const num = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new DemoError(`--${name}: a positive number, not ${JSON.stringify(v)}`);
    return n;
  };
  try {
    const r = await runDemo({
      config,
      ...(opts.speed ? { speed: num(opts.speed, 'speed')! } : {}),
      ...(opts.seed ? { seed: num(opts.seed, 'seed')! } : {}),
      ...(opts.hours ? { historyHours: num(opts.hours, 'hours')! } : {}),
      ...(opts.reset ? { reset: true } : {}),
      ...(opts.keepRunning ? { keepRunning: true } : {}),
    });
    return r.complete ? 0 : 1;
  } catch (e) {
    if (e instanceof DemoError) {
      process.stderr.write(`opsight: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
