import type { Config } from '../core/config/schema.ts';
import type { Detector } from './detector.ts';
import { costDetector } from './cost/detector.ts';
import { healthDetector } from './health/detector.ts';
import { logsDetector } from './logs/stream.ts';
import { metricsDetector } from './metrics/stream.ts';

/** The detectors the config enables; a new detector is one line here. */
export function buildDetectors(config: Config): Detector[] {
  const d = config.detect;
  const out: Detector[] = [];
  if (d.metrics.enabled) out.push(metricsDetector(d.metrics, d.checkpointSeconds));
  if (d.health.enabled) out.push(healthDetector(d.health, d.checkpointSeconds));
  if (d.logs.enabled) out.push(logsDetector(d.logs, d.checkpointSeconds, config.ingest.templates.similarity));
  if (d.cost.enabled) out.push(costDetector(d.cost));
  return out;
}
