/** Log template mining and per-template rates (pure: no bus, no ClickHouse). */
export { TemplateMiner, similarity } from './drain.ts';
export { extractParams } from './params.ts';
export type { MinerOptions, MinerState, TemplateInfo, TemplateMatch } from './drain.ts';
export { WILDCARD, maskMessage, maskToken } from './mask.ts';
export { TemplateRates } from './surge.ts';
export type { RateObservation, RateState, Surge, SurgeOptions } from './surge.ts';
export { templateId } from './template-id.ts';
