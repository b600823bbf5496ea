/**
 * Hysteresis for one alert key, so an alert neither flaps nor fires on a single noisy point:
 * it fires after `fireAfter` consecutive breaching evaluations (at once when the score reaches
 * `fireAt`), and resolves only after `resolveAfter` consecutive evaluations below the lower
 * `clearBelow` threshold. Between the two thresholds nothing changes.
 */
export interface GateOptions {
  /** Score at or above which an evaluation breaches. */
  breachAt: number;
  /** Score below which an evaluation counts towards resolving (< breachAt). */
  clearBelow: number;
  /** Score that fires at once, without waiting for fireAfter breaches. */
  fireAt?: number;
  fireAfter: number;
  resolveAfter: number;
}

export type GateTransition = 'fire' | 'resolve' | undefined;

export interface GateState {
  firing: boolean;
  /** Consecutive breaching (while quiet) or clear (while firing) evaluations. */
  run: number;
  /** When the current firing started (ms), or when the breach run began. */
  since: number;
  /** Highest score seen in the current episode. */
  peak: number;
}

export const newGateState = (): GateState => ({ firing: false, run: 0, since: 0, peak: 0 });

export function stepGate(s: GateState, score: number, atMs: number, o: GateOptions): GateTransition {
  if (!s.firing) {
    if (score >= o.breachAt) {
      if (s.run === 0) {
        s.since = atMs;
        s.peak = 0;
      }
      s.run++;
      s.peak = Math.max(s.peak, score);
      if (s.run >= o.fireAfter || (o.fireAt !== undefined && score >= o.fireAt)) {
        s.firing = true;
        s.run = 0;
        return 'fire';
      }
    } else {
      s.run = 0;
    }
    return undefined;
  }
  s.peak = Math.max(s.peak, score);
  if (score < o.clearBelow) {
    s.run++;
    if (s.run >= o.resolveAfter) {
      s.firing = false;
      s.run = 0;
      return 'resolve';
    }
  } else {
    s.run = 0;
  }
  return undefined;
}
