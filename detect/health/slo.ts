/**
 * Multi-window, multi-burn-rate SLO alerts (Google SRE workbook, ch. 5): an alert fires when
 * the error budget burns fast over a long window AND is still burning over a short one (the
 * short window makes it resolve soon after the problem stops). Thresholds follow from the
 * share of the period's budget each pair may consume: 2% in 1 h and 5% in 6 h page; 10% in
 * 1 d and 10% in 3 d open a ticket. For a 30-day period that is 14.4, 6, 3 and 1.
 */
export interface BurnWindowPair {
  longSeconds: number;
  shortSeconds: number;
  budgetShare: number;
  severity: 'critical' | 'warning';
}

export const BURN_PAIRS: readonly BurnWindowPair[] = [
  { longSeconds: 3600, shortSeconds: 300, budgetShare: 0.02, severity: 'critical' },
  { longSeconds: 6 * 3600, shortSeconds: 1800, budgetShare: 0.05, severity: 'critical' },
  { longSeconds: 86_400, shortSeconds: 7200, budgetShare: 0.1, severity: 'warning' },
  { longSeconds: 3 * 86_400, shortSeconds: 6 * 3600, budgetShare: 0.1, severity: 'warning' },
];

export const SLO_WINDOWS: readonly number[] = [
  ...new Set(BURN_PAIRS.flatMap((p) => [p.longSeconds, p.shortSeconds])),
].sort((a, b) => a - b);

export const burnThreshold = (p: BurnWindowPair, periodDays: number): number =>
  (p.budgetShare * periodDays * 86_400) / p.longSeconds;

export interface BurnResult {
  pair: BurnWindowPair;
  threshold: number;
  longBurn: number;
  shortBurn: number;
}

/**
 * The most severe burning pair, or undefined. `ratio(window)` is the error ratio over that
 * window (undefined without traffic, which never burns).
 */
export function evaluateBurn(
  objective: number,
  periodDays: number,
  ratio: (windowSeconds: number) => number | undefined,
): BurnResult | undefined {
  const budget = 1 - objective;
  for (const pair of BURN_PAIRS) {
    const long = ratio(pair.longSeconds);
    const short = ratio(pair.shortSeconds);
    if (long === undefined || short === undefined) continue;
    const threshold = burnThreshold(pair, periodDays);
    const longBurn = long / budget;
    const shortBurn = short / budget;
    if (longBurn >= threshold && shortBurn >= threshold) return { pair, threshold, longBurn, shortBurn };
  }
  return undefined;
}
