import { resolveAnomalyConfig, type AnomalyConfig } from './config.ts';

/** What one point scored; `update` reuses one object per detector (copy it to keep it). */
export interface AnomalyResult {
  /**
   * 0..1 alerting score. ≥ 0.5 opens an alert (ranked above 0.5 by surprise, novelty and `outOfRange`,
   * and divided by 1 + 0.015 × burstiness, so on a series often at alert level a weak alert falls
   * under 0.5); the detector then emits 0 until the series has been calm for `quietPoints` points
   * (and, if set, `refractoryPoints` have passed since the alert opened), except once more when the
   * episode's score grows 10% above its peak (escalation).
   */
  score: number;
  /** 0..1 surprise of this point before alert suppression. */
  rawScore: number;
  /** Forecast of the value, and the band of ordinary values around it (alert-level width). */
  expected: number;
  lower: number;
  upper: number;
  /** Residual against the seasonal forecast, in robust deviations (signed). */
  z: number;
  /** Point surprise (deviations, tail-normalised) and anomaly-likelihood statistic. */
  point: number;
  likelihood: number;
  /** How far the value left the range the series showed lately, relative to that range. */
  novelty: number;
  /**
   * True when the value left the whole range the series has shown since it started by more than 5%
   * of that range (after warm-up): such a point always opens an alert, ranked high.
   */
  outOfRange: boolean;
  /** True when the change-point rule moved the level to a new regime at this point. */
  levelShift: boolean;
  /**
   * Alert-level points among about the last 1000 (exponentially weighted). Alert scores are divided
   * by 1 + 0.015 × this, so a series that is often at alert level ranks its alerts lower.
   */
  burstiness: number;
  /** True while still learning (fewer than minHistory points): scores are 0. */
  warmingUp: boolean;
}

const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** Daily profile resolution: 15-minute slots. */
export const DAILY_SLOTS = 96;
const WEEK_SLOTS = 7;

// State layout: one Float64Array, so that a checkpoint is a byte copy.
const N = 0; // points seen
const LAST_T = 1;
const LEVEL = 2; // seasonal model: level + daily profile + day-of-week offset
const PEAK = 3; // highest alert score (before the burstiness factor) of the open alert
const DEV = 4; // EW mean absolute residual, series-wide
const SHORT_Z = 5; // EW mean of recent clipped standardised residuals (change-point rule)
const SHORT_MEAN = 6; // EW mean of recent residuals: the size of a level shift
const ARMED = 7; // 1 = the next alert-level score opens an alert
const QUIET = 8; // calm points since the alert opened
const DT = 9; // EW typical sampling interval (ms)
const FIRST_T = 10;
const MAG = 11; // EW mean |value|: floor of the deviation on flat series
const LOCAL_LEVEL = 12; // local model: fast EWMA level
const LOCAL_DEV = 13; // its EW mean absolute residual
const TAIL = 14; // running 99.7th percentile of the point surprise
const R_SHORT = 15; // likelihood: EW mean of the bounded surprise over ~10 points
const R_MEAN = 16; // its long-run mean
const R_VAR = 17; // and long-run variance
const HI = 18; // decaying running maximum of values
const LO = 19; // decaying running minimum
const Z_SHORT = 20; // the same likelihood on the seasonal residual alone (drifts, stuck values)
const Z_MEAN = 21;
const Z_VAR = 22;
const HOT = 23; // EW fraction of recent points at alert level (~1000-point memory)
const EVER_HI = 24; // highest value ever seen (the range rule)
const EVER_LO = 25; // lowest value ever seen
const SINCE_OPEN = 26; // points since the last alert opened (refractory period)
const HEADER = 27;
const SEASON = HEADER; // daily profile
const SEASON_DEV = SEASON + DAILY_SLOTS; // per-slot mean absolute residual
const WEEKLY = SEASON_DEV + DAILY_SLOTS; // day-of-week offsets
export const STATE_LENGTH = WEEKLY + WEEK_SLOTS;
/** Bytes of state kept per series. */
export const STATE_BYTES = STATE_LENGTH * Float64Array.BYTES_PER_ELEMENT;

// Model rates. Level and deviations adapt per point; seasonal terms per day/week of data, so that
// coarse or irregular sampling learns the profile at the same pace in time.
const ALPHA_LEVEL = 0.08;
const LEVEL_DAYS = 0.25; // with a daily profile the level's memory is about 6 hours
const ALPHA_DEV = 0.02;
const ALPHA_LOCAL = 0.1;
const GAMMA_DAY = 0.15; // weight of one day in the daily profile
const GAMMA_WEEK = 0.15; // weight of one week in the weekly offsets
const HUBER = 3; // residuals clipped at ±3 deviations when updating the model
const SHORT_ALPHA = 0.1; // ~10-point memory of the short averages
// Heavy tails: a point is judged against the series' own 99.7th percentile of surprise when
// that is wider than this floor (about what Gaussian noise gives, in mean-absolute deviations).
const TAIL_P = 0.003;
const TAIL_FLOOR = 3.2;
const TAIL_RATE = 0.05;
// Anomaly likelihood (after HTM's): the recent mean of the bounded surprise against its long-run
// mean and spread; LIKELIHOOD_WEIGHT puts 1.7 standard deviations at the alert level of 5.
const R_CAP = 10;
const R_LONG_ALPHA = 0.002;
const LIKELIHOOD_WEIGHT = 3;
// Novelty: values beyond the range of the last days (running extremes decaying over 2 days).
const RANGE_DAYS = 2;
const NOVELTY_GAIN = 8;
const NOVELTY_FLOOR = 0.8; // a surprise inside the recent range counts 80%
const DRIFT_WEIGHT = 2;
const CLEAR_LEVEL = 0.3; // raw score under which a point counts as calm for re-arming
const ESCALATION = 1.1; // an open alert is reported again when its score exceeds its peak by 10%
// A series that often sits at alert level (bursty counts) is judged against its own burstiness:
// its alert scores are divided by 1 + HOT_WEIGHT × (alert-level points among the last ~1000).
const HOT_RATE = 0.001;
const HOT_WEIGHT = 0.015;
// Range rule (HTM's "spatial anomaly" in NAB's Numenta detector, same 5% tolerance): a value beyond
// everything the series has ever shown, by more than 5% of that range, is an anomaly whatever the
// forecasts say. Slow growth never trips it (the range grows with it); a jump out of it does.
// It applies after a week of data, once the range covers a whole daily and weekly cycle.
const RANGE_TOLERANCE = 0.05;
const RANGE_HISTORY_DAYS = 7;
// Alert ranking above 0.5: surprise (raw score above the alert level), novelty against the recent
// range (saturating, half weight at a quarter of the range) and the range rule. Weights sum to 0.85;
// the sum is compressed into [0.5, 1) by rankScore, which keeps the order.
const RANK_SURPRISE = 0.35;
const RANK_NOVELTY = 0.25;
const NOVELTY_HALF = 0.25;
const RANK_RANGE = 0.25;

/**
 * Online anomaly detector for one series. Two forecasts: a seasonal one (level following slow
 * trends, a daily profile of 96 slots and a day-of-week offset, Holt–Winters style with Huber-clipped
 * updates and a per-slot mean absolute deviation as scale) and a local EWMA. A point's surprise
 * is the smaller of its two standardised residuals (seasonal edges and local drifts are not
 * anomalies), normalised by the series' own tail, damped unless the value leaves its recent range,
 * and combined with an anomaly likelihood for sustained changes. A change-point rule moves the
 * level when residuals stay at the clip. Alerts open at score 0.5 and stay quiet until calm.
 * Constant memory: STATE_LENGTH doubles.
 */
export class AnomalyDetector {
  readonly state: Float64Array;
  private readonly cfg: AnomalyConfig;
  /** Deviations of point surprise that make an alert-level score. */
  private readonly zAlert: number;
  private decayDt = Number.NaN;
  private decay = 1;
  private readonly out: AnomalyResult = {
    score: 0,
    rawScore: 0,
    expected: Number.NaN,
    lower: Number.NaN,
    upper: Number.NaN,
    z: 0,
    point: 0,
    likelihood: 0,
    novelty: 0,
    outOfRange: false,
    levelShift: false,
    burstiness: 0,
    warmingUp: true,
  };

  constructor(config: Partial<AnomalyConfig> = {}, state?: Float64Array) {
    this.cfg = resolveAnomalyConfig(config);
    // sensitivity 0.5 → 5 deviations; 1 → 3; 0 → 7.
    this.zAlert = 7 - 4 * this.cfg.sensitivity;
    if (state && state.length !== STATE_LENGTH)
      throw new Error(`detector state must have ${STATE_LENGTH} values`);
    this.state = state ?? initialState();
  }

  /** Scores one point (timestamps in order); NaN/Infinity is a missing point: no update, score 0. */
  update(timestampMs: number, value: number): AnomalyResult {
    const s = this.state;
    const out = this.out;
    out.levelShift = false;
    out.outOfRange = false;
    if (!Number.isFinite(value) || !Number.isFinite(timestampMs)) {
      out.score = 0;
      out.rawScore = 0;
      out.z = 0;
      return out;
    }
    const n = s[N]!;
    if (n === 0) {
      s[N] = 1;
      s[LAST_T] = timestampMs;
      s[FIRST_T] = timestampMs;
      s[LEVEL] = value;
      s[MAG] = Math.abs(value);
      s[LOCAL_LEVEL] = value;
      s[HI] = value;
      s[LO] = value;
      s[EVER_HI] = value;
      s[EVER_LO] = value;
      out.warmingUp = true;
      return this.emit(0, 0, value, 0, 0);
    }
    const dt = timestampMs - s[LAST_T]!;
    if (dt > 0) s[DT] = s[DT]! === 0 ? dt : s[DT]! + 0.05 * (dt - s[DT]!);
    s[LAST_T] = Math.max(s[LAST_T]!, timestampMs);
    const step = s[DT]! > 0 ? s[DT]! : DAY;
    const days = (timestampMs - s[FIRST_T]!) / DAY;

    // Seasonal terms apply only when sampled finely enough to see them.
    const daily = this.cfg.seasons.daily && step <= DAY / 8;
    const weekly = this.cfg.seasons.weekly && step <= DAY;
    let slot = 0;
    let season = 0;
    if (daily) {
      slot = Math.floor(((((timestampMs % DAY) + DAY) % DAY) / DAY) * DAILY_SLOTS) % DAILY_SLOTS;
      season = s[SEASON + slot]!;
    }
    let dow = 0;
    if (weekly) {
      dow = Math.floor((((timestampMs % WEEK) + WEEK) % WEEK) / DAY);
      season += s[WEEKLY + dow]!;
    }
    const floor = 1e-3 * s[MAG]! + 1e-9;
    const eL = value - s[LOCAL_LEVEL]!;
    const scaleL = Math.max(s[LOCAL_DEV]!, floor);
    const zL = eL / scaleL;
    const expected = s[LEVEL]! + season;
    const e = value - expected;
    // Scale: per-slot deviation once a day has been seen, else the series-wide one.
    const scale = Math.max(daily && days >= 1 ? s[SEASON_DEV + slot]! : s[DEV]!, floor);
    const z = e / scale;

    // The daily profile is first learnt over two days (see the model update below).
    const profileLearning = daily && days < 2;

    // Point surprise: neither the seasonal nor the local model expected it.
    const surprise = daily && days >= 1 ? Math.min(Math.abs(z), Math.abs(zL)) : Math.abs(z);
    const tail = s[TAIL]! > 0 ? s[TAIL]! : TAIL_FLOOR;
    s[TAIL] = tail + TAIL_RATE * tail * ((surprise > tail ? 1 : 0) - TAIL_P);
    let point = (surprise * TAIL_FLOOR) / Math.max(tail, TAIL_FLOOR);

    // Range rule: out of everything seen so far, by more than the tolerance.
    const everHi = s[EVER_HI]!;
    const everLo = s[EVER_LO]!;
    const margin = RANGE_TOLERANCE * (everHi - everLo);
    const outOfRange =
      days >= RANGE_HISTORY_DAYS && everHi > everLo && (value > everHi + margin || value < everLo - margin);
    if (value > everHi) s[EVER_HI] = value;
    if (value < everLo) s[EVER_LO] = value;

    // Novelty against the recent range: new highs and lows count fully.
    const hi = s[HI]!;
    const lo = s[LO]!;
    const range = hi - lo;
    const novelty = range > 0 ? Math.max(0, value - hi, lo - value) / range : 0;
    if (dt !== this.decayDt) {
      // Regular sampling repeats the same interval: compute its decay once.
      this.decayDt = dt;
      this.decay = Math.exp(-Math.max(0, dt) / (RANGE_DAYS * DAY));
    }
    const decay = this.decay;
    const lvl = s[LEVEL]!;
    s[HI] = Math.max(value, lvl + (hi - lvl) * decay);
    s[LO] = Math.min(value, lvl + (lo - lvl) * decay);
    point *= Math.min(1, NOVELTY_FLOOR + NOVELTY_GAIN * novelty);

    // Anomaly likelihood: sustained moderate surprise (trend change, changed seasonal shape).
    const rb = Math.min(surprise, R_CAP);
    const rs = s[R_SHORT]! + SHORT_ALPHA * (rb - s[R_SHORT]!);
    s[R_SHORT] = rs;
    const rm = s[R_MEAN]!;
    const likelihood = (LIKELIHOOD_WEIGHT * Math.max(0, rs - rm)) / Math.sqrt(Math.max(s[R_VAR]!, 1e-4));
    const ar = n < 1 / R_LONG_ALPHA ? 1 / n : R_LONG_ALPHA;
    s[R_MEAN] = rm + ar * (rb - rm);
    s[R_VAR] = s[R_VAR]! + ar * ((rb - rm) * (rb - rm) - s[R_VAR]!);

    // The seasonal residual alone, weighted lower: a slow drift or a stuck value that the local
    // model follows still departs from the seasonal forecast for long.
    const zb = Math.min(Math.abs(z), R_CAP);
    const zs = s[Z_SHORT]! + SHORT_ALPHA * (zb - s[Z_SHORT]!);
    s[Z_SHORT] = zs;
    const zm = s[Z_MEAN]!;
    // Not while the daily profile is first learnt: the seasonal residual changes meaning when
    // the profile takes over from the level at day one (its scale too), and that jump alone
    // would read as drift on every young seasonal series.
    const drift = profileLearning
      ? 0
      : (DRIFT_WEIGHT * Math.max(0, zs - zm)) / Math.sqrt(Math.max(s[Z_VAR]!, 1e-4));
    s[Z_MEAN] = zm + ar * (zb - zm);
    s[Z_VAR] = s[Z_VAR]! + ar * ((zb - zm) * (zb - zm) - s[Z_VAR]!);

    // Model update with clipped residuals so anomalies do not teach the model, except while the
    // daily profile is first learnt (two days), when every residual must teach it.
    const learning = profileLearning;
    const ec = learning ? e : Math.max(-HUBER * scale, Math.min(HUBER * scale, e));
    const zc = z > HUBER ? HUBER : z < -HUBER ? -HUBER : z;
    const shortZ = s[SHORT_Z]! + SHORT_ALPHA * (zc - s[SHORT_Z]!);
    s[SHORT_Z] = shortZ;
    s[SHORT_MEAN] = s[SHORT_MEAN]! + SHORT_ALPHA * (e - s[SHORT_MEAN]!);
    if (!learning && Math.abs(shortZ) >= 0.8 * HUBER) {
      // Change point: residuals have sat at the clip for a while; accept the new level at once.
      s[LEVEL] = s[LEVEL]! + s[SHORT_MEAN]!;
      s[SHORT_Z] = 0;
      s[SHORT_MEAN] = 0;
      out.levelShift = true;
    }
    const stat = Math.max(point, likelihood, drift) / this.zAlert;
    const raw = 1 - Math.exp(-Math.LN2 * stat * stat); // 0.5 at the alert level

    const aLevel = daily ? Math.min(ALPHA_LEVEL, step / (LEVEL_DAYS * DAY)) : ALPHA_LEVEL;
    s[LEVEL] = s[LEVEL]! + aLevel * ec;
    const rest = (1 - aLevel) * ec;
    const ae = Math.min(Math.abs(e), 2 * HUBER * scale);
    const aDev = n < 1 / ALPHA_DEV ? 1 / n : ALPHA_DEV;
    s[DEV] = s[DEV]! + aDev * (ae - s[DEV]!);
    s[MAG] = s[MAG]! + 0.01 * (Math.abs(value) - s[MAG]!);
    s[LOCAL_LEVEL] = s[LOCAL_LEVEL]! + ALPHA_LOCAL * Math.max(-HUBER * scaleL, Math.min(HUBER * scaleL, eL));
    s[LOCAL_DEV] = s[LOCAL_DEV]! + aDev * (Math.min(Math.abs(eL), 2 * HUBER * scaleL) - s[LOCAL_DEV]!);
    if (daily) {
      // One day of updates moves a slot by about GAMMA_DAY (a running mean over the first days).
      const perUpdate = Math.min(1, step / (DAY / DAILY_SLOTS));
      const g = Math.max(GAMMA_DAY * perUpdate, perUpdate / Math.max(1, days));
      s[SEASON + slot] = s[SEASON + slot]! + g * rest;
      const d = s[SEASON_DEV + slot]!;
      s[SEASON_DEV + slot] = days < 1 ? s[DEV]! : d + g * (ae - d);
    }
    if (weekly) {
      const w = step / DAY;
      s[WEEKLY + dow] = s[WEEKLY + dow]! + 0.5 * Math.max(GAMMA_WEEK * w, w / Math.max(1, days / 7)) * rest;
    }
    s[N] = n + 1;
    const warm = n + 1 <= this.cfg.minHistory;
    out.warmingUp = warm;
    out.z = z;
    out.point = point;
    out.likelihood = likelihood;
    out.novelty = novelty;
    out.outOfRange = outOfRange && !warm;
    // A point out of the range is an alert-level point whatever the forecasts say.
    return this.emit(warm ? 0 : out.outOfRange ? Math.max(raw, 0.5) : raw, novelty, expected, scale, z);
  }

  private emit(raw: number, novelty: number, expected: number, scale: number, z: number): AnomalyResult {
    const s = this.state;
    const out = this.out;
    // An alert's score is ranked by surprise, by how novel the value is and by the range rule.
    const alertScore =
      0.5 +
      RANK_SURPRISE * ((raw - 0.5) / 0.5) +
      RANK_NOVELTY * (novelty / (novelty + NOVELTY_HALF)) +
      (out.outOfRange ? RANK_RANGE : 0);
    out.burstiness = s[HOT]! / HOT_RATE;
    const hot = 1 / (1 + HOT_WEIGHT * out.burstiness);
    s[HOT] = s[HOT]! + HOT_RATE * ((raw >= 0.5 ? 1 : 0) - s[HOT]!);
    const sinceOpen = s[SINCE_OPEN]! + 1;
    s[SINCE_OPEN] = sinceOpen;
    let score = raw;
    if (s[ARMED] === 1 && sinceOpen > this.cfg.refractoryPoints) {
      if (raw >= 0.5) {
        score = rankScore(alertScore * hot);
        s[PEAK] = alertScore;
        s[ARMED] = 0;
        s[QUIET] = 0;
        s[SINCE_OPEN] = 0;
      }
    } else {
      // Hysteresis: one alert per episode, re-armed once quietPoints calm points have passed (and,
      // if configured, none within refractoryPoints of the last: a burst is one incident). An
      // episode that grows clearly worse (score 10% above its peak) is reported again, so that an
      // alert opened with a low score still shows when it turns severe: whatever score a consumer
      // alerts on, an episode crosses it about once.
      score = 0;
      if (raw >= 0.5 && alertScore > ESCALATION * s[PEAK]!) {
        score = rankScore(alertScore * hot);
        s[PEAK] = alertScore;
      }
      s[QUIET] = raw < CLEAR_LEVEL ? s[QUIET]! + 1 : 0;
      if (s[QUIET]! >= this.cfg.quietPoints) s[ARMED] = 1;
    }
    out.score = score;
    out.rawScore = raw;
    out.expected = expected;
    out.lower = expected - this.zAlert * scale;
    out.upper = expected + this.zAlert * scale;
    out.z = z;
    return out;
  }
}

/** Keeps x up to 0.5 and compresses the alert ranks above it into [0.5, 1), order preserved. */
function rankScore(x: number): number {
  return x <= 0.5 ? x : 1 - 0.5 * Math.exp(-(x - 0.5) / 0.5);
}

function initialState(): Float64Array {
  const s = new Float64Array(STATE_LENGTH);
  s[ARMED] = 1;
  s[SINCE_OPEN] = 1e9;
  return s;
}
