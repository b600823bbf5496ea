import type { CostDetectConfig } from '../../core/config/detect/cost.ts';
import type { SpikeOptions } from './spike.ts';

/** The scoring options for one series: the config, a service's overrides, the currency's floor. */
export function spikeOptions(
  c: CostDetectConfig,
  service: string | undefined,
  currency: string,
): SpikeOptions {
  const o = service === undefined ? undefined : c.services[service];
  return {
    granularity: c.granularity,
    sensitivity: o?.sensitivity ?? c.sensitivity,
    relativeThreshold: o?.relativeThreshold ?? c.relativeThreshold,
    minIncrease: o?.minIncrease ?? c.minIncreaseByCurrency[currency] ?? c.minIncrease,
    minHistory: c.minHistory,
    lookbackDays: c.lookbackDays,
    monthStartDays: c.monthStartDays,
  };
}

/** Whether a service is scored at all. */
export function serviceEnabled(c: CostDetectConfig, service: string | undefined): boolean {
  return service === undefined ? true : (c.services[service]?.enabled ?? true);
}
