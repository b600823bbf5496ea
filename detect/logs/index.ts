/** Per-template rates and the log stream detector; the miner itself is core/logs (ingest stamps with it). */
export { TemplateRates } from './surge.ts';
export type { RateObservation, RateState, Surge, SurgeOptions } from './surge.ts';
