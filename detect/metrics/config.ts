/** Configuration of the per-series anomaly detector: one configuration for every series. */
export interface AnomalyConfig {
  /**
   * 0..1, default 0.5: higher is more sensitive. A point needs about 7 − 4·sensitivity robust
   * deviations of surprise (5 by default) to reach the alert-level score of 0.5.
   */
  sensitivity: number;
  /** Seasonalities modelled additively (from timestamps, UTC): a daily profile, day-of-week offsets. */
  seasons: { daily: boolean; weekly: boolean };
  /** Points seen before any non-zero score (the model learns meanwhile). */
  minHistory: number;
  /** After an alert opens, calm points needed before another alert can open. */
  quietPoints: number;
  /**
   * After an alert opens, points before another can open, calm or not (escalation still reports).
   * Default 0 (off): a separate spike a few hours later is a separate alert.
   */
  refractoryPoints: number;
}

export const DEFAULT_ANOMALY_CONFIG: Readonly<AnomalyConfig> = Object.freeze({
  sensitivity: 0.5,
  seasons: Object.freeze({ daily: true, weekly: true }),
  minHistory: 150,
  quietPoints: 12,
  refractoryPoints: 0,
});

export function resolveAnomalyConfig(partial: Partial<AnomalyConfig> = {}): AnomalyConfig {
  const c: AnomalyConfig = {
    ...DEFAULT_ANOMALY_CONFIG,
    ...partial,
    seasons: { ...DEFAULT_ANOMALY_CONFIG.seasons, ...partial.seasons },
  };
  if (!(c.sensitivity >= 0 && c.sensitivity <= 1)) throw new Error('sensitivity must be within [0, 1]');
  if (!(Number.isInteger(c.minHistory) && c.minHistory >= 0))
    throw new Error('minHistory must be an integer ≥ 0');
  if (!(Number.isInteger(c.quietPoints) && c.quietPoints >= 0))
    throw new Error('quietPoints must be an integer ≥ 0');
  if (!(Number.isInteger(c.refractoryPoints) && c.refractoryPoints >= 0))
    throw new Error('refractoryPoints must be an integer ≥ 0');
  return c;
}
