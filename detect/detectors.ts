import type { Config } from '../core/config/schema.ts';
import type { Detector } from './detector.ts';
import { healthDetector } from './health/detector.ts';

/** The detectors the config enables; a new detector is one line here. */
export function buildDetectors(config: Config): Detector[] {
  const d = config.detect;
  const out: Detector[] = [];
  if (d.health.enabled) out.push(healthDetector(d.health));
  return out;
}
