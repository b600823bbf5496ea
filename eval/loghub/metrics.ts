/**
 * Loghub accuracy metrics over one system, given each line's ground-truth and predicted group
 * and template text.
 *
 * - GA (grouping accuracy, Zhu et al. 2019, logparser's evaluator): a line is correct when the
 *   set of lines of its predicted group equals the set of lines of its ground-truth group.
 * - FGA (Khan et al. 2022 / Loghub-2.0): F1 of the share of predicted groups that equal some
 *   ground-truth group (precision) and of ground-truth groups matched exactly (recall).
 * - PA (parsing accuracy): a line is correct when its predicted template text equals the ground
 *   truth after normalizeTemplate.
 */
export interface Scores {
  grouping_accuracy: number;
  f1_group: number;
  parsing_accuracy: number;
}

/**
 * Whitespace is collapsed and runs of adjacent wildcards (`<*><*>`, `<*> <*>` are not merged,
 * only directly adjacent ones) become one, on both sides: both mean "variable text here".
 */
export function normalizeTemplate(t: string): string {
  return t
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/(<\*>)+/g, '<*>');
}

function groups(labels: readonly string[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const g = m.get(l);
    if (g) g.push(i);
    else m.set(l, [i]);
  });
  return m;
}

export function score(
  truthGroups: readonly string[],
  predGroups: readonly string[],
  truthTemplates: readonly string[],
  predTemplates: readonly string[],
): Scores {
  const n = truthGroups.length;
  if (n === 0 || predGroups.length !== n)
    throw new Error(`score: ${n} truth labels, ${predGroups.length} predictions`);
  const truth = groups(truthGroups);
  const pred = groups(predGroups);
  let correctLines = 0;
  let correctGroups = 0;
  for (const lines of pred.values()) {
    // A predicted group is exact when all its lines share one truth group of the same size.
    const t = truth.get(truthGroups[lines[0]!]!)!;
    if (t.length === lines.length && lines.every((i) => truthGroups[i] === truthGroups[lines[0]!])) {
      correctLines += lines.length;
      correctGroups++;
    }
  }
  const precision = correctGroups / pred.size;
  const recall = correctGroups / truth.size;
  let parsed = 0;
  for (let i = 0; i < n; i++) {
    if (normalizeTemplate(truthTemplates[i]!) === normalizeTemplate(predTemplates[i]!)) parsed++;
  }
  return {
    grouping_accuracy: correctLines / n,
    f1_group: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    parsing_accuracy: parsed / n,
  };
}
