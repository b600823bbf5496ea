import { TemplateMiner, type MinerOptions } from '../../core/logs/drain.ts';
import type { LoghubSystem } from './dataset.ts';
import { score, type Scores } from './metrics.ts';

/**
 * Mines a system's messages in order with one miner and scores the final partition: each line
 * belongs to the cluster its id resolves to at the end (clusters merged later included), with
 * that cluster's final template text, as logparser's evaluator scores Drain.
 */
export function evaluateSystem(
  system: LoghubSystem,
  options: MinerOptions = {},
): Scores & { templates: number } {
  const miner = new TemplateMiner({ ...options, extraPatterns: system.patterns });
  const ids = system.contents.map((c) => miner.add(c).templateId);
  const text = new Map(miner.templates().map((t) => [t.templateId, t.template]));
  const groups = ids.map((id) => miner.resolve(id));
  const predTemplates = groups.map((id) => text.get(id) ?? '');
  return { ...score(system.eventIds, groups, system.templates, predTemplates), templates: text.size };
}
