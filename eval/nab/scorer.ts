/**
 * The NAB scoring rules (Lavin & Ahmad 2015, NAB v1.1 semantics), written for this project:
 * per-row weights from the scaled sigmoid inside and after anomaly windows, one threshold per
 * profile for the whole corpus (the one maximising the summed raw score), and normalisation
 * between the null detector and the perfect one.
 */

export interface CostMatrix {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
}

export type Profiles = Record<string, CostMatrix>;

/** One file's detector output with its windows (inclusive row ranges). */
export interface ScoredFile {
  key: string;
  scores: ArrayLike<number>;
  windows: ReadonlyArray<readonly [number, number]>;
}

export const PROBATION_PERCENT = 0.15;

/** Rows ignored at the start of a file: 15% of it, at most 750 rows. */
export function probationLength(rows: number): number {
  return Math.min(Math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000);
}

/** 2/(1+e^(5y)) − 1, and −1 far behind a window (y ≥ 3). */
export function scaledSigmoid(y: number): number {
  return y >= 3 ? -1 : 2 / (1 + Math.exp(5 * y)) - 1;
}

/** Scorable rows of a corpus: the weight a detection would earn and the window it falls in. */
interface Rows {
  anomaly: Float64Array;
  weight: Float64Array;
  /** Global window id, or −1 outside windows. */
  window: Int32Array;
  windowCount: number;
}

/**
 * Flattens files into scorable rows for one cost matrix. Inside a window of W rows ending at R,
 * row i earns tp·σ(−(R−i+1)/W)/σ(−1); outside, a detection costs fp·σ(|i−R'|/(W'−1)) after the
 * previous window (W', R'), or the full −fp before any window. Probationary rows are dropped, and
 * a window counts only if some of its rows are scorable.
 */
function flatten(files: readonly ScoredFile[], cost: CostMatrix): Rows {
  let total = 0;
  for (const f of files)
    total += f.scores.length - Math.min(f.scores.length, Math.ceil(probationLength(f.scores.length)));
  const anomaly = new Float64Array(total);
  const weight = new Float64Array(total);
  const window = new Int32Array(total);
  const maxTp = scaledSigmoid(-1);
  let k = 0;
  let windowCount = 0;
  for (const f of files) {
    const n = f.scores.length;
    const prob = probationLength(n);
    const wins = [...f.windows].sort((a, b) => a[0] - b[0]);
    let w = 0;
    let cur: readonly [number, number] | undefined;
    let curId = -1;
    let prevRight = -1;
    let prevWidth = 0;
    for (let i = 0; i < n; i++) {
      const next = wins[w];
      if (next && i === next[0]) {
        cur = next;
        w++;
        curId = -1;
      }
      let wt: number;
      if (cur) {
        const width = cur[1] - cur[0] + 1;
        wt = (scaledSigmoid(-(cur[1] - i + 1) / width) * cost.tpWeight) / maxTp;
      } else if (prevRight < 0) {
        wt = scaledSigmoid(3) * cost.fpWeight;
      } else {
        // A one-row window would divide by zero in NAB; treat it as far behind.
        const y = prevWidth > 1 ? Math.abs(prevRight - i) / (prevWidth - 1) : 3;
        wt = scaledSigmoid(y) * cost.fpWeight;
      }
      if (i >= prob) {
        if (cur && curId < 0) curId = windowCount++;
        anomaly[k] = f.scores[i]!;
        weight[k] = wt;
        window[k] = cur ? curId : -1;
        k++;
      }
      if (cur && i === cur[1]) {
        prevRight = i;
        prevWidth = cur[1] - cur[0] + 1;
        cur = undefined;
      }
    }
  }
  return {
    anomaly: anomaly.subarray(0, k),
    weight: weight.subarray(0, k),
    window: window.subarray(0, k),
    windowCount,
  };
}

export interface ThresholdResult {
  threshold: number;
  raw: number;
  windows: number;
}

/**
 * Sweeps every distinct anomaly score from the highest down (1.1 = no detection) and returns the
 * threshold with the best summed raw score; ties keep the highest threshold.
 */
export function optimizeThreshold(files: readonly ScoredFile[], cost: CostMatrix): ThresholdResult {
  const rows = flatten(files, cost);
  const n = rows.anomaly.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => rows.anomaly[b]! - rows.anomaly[a]!);
  const best = new Float64Array(rows.windowCount).fill(-cost.fnWeight);
  let score = -cost.fnWeight * rows.windowCount;
  let bestScore = score;
  let bestThreshold = 1.1;
  for (let j = 0; j < n;) {
    const t = rows.anomaly[order[j]!]!;
    // All rows with the same score become detections together.
    for (; j < n && rows.anomaly[order[j]!] === t; j++) {
      const i = order[j]!;
      const win = rows.window[i]!;
      if (win < 0) score += rows.weight[i]!;
      else if (rows.weight[i]! > best[win]!) {
        score += rows.weight[i]! - best[win]!;
        best[win] = rows.weight[i]!;
      }
    }
    if (score > bestScore + 1e-12) {
      bestScore = score;
      bestThreshold = t;
    }
  }
  return { threshold: bestThreshold, raw: bestScore, windows: rows.windowCount };
}

/** Raw score of a corpus when rows with score ≥ threshold are detections. */
export function scoreAtThreshold(files: readonly ScoredFile[], cost: CostMatrix, threshold: number): number {
  const rows = flatten(files, cost);
  const best = new Float64Array(rows.windowCount).fill(-cost.fnWeight);
  let fp = 0;
  for (let i = 0; i < rows.anomaly.length; i++) {
    if (!(rows.anomaly[i]! >= threshold)) continue;
    const win = rows.window[i]!;
    if (win < 0) fp += rows.weight[i]!;
    else best[win] = Math.max(best[win]!, rows.weight[i]!);
  }
  let sum = fp;
  for (const b of best) sum += b;
  return sum;
}

export interface ProfileScore extends ThresholdResult {
  /** 100·(raw − null)/(perfect − null). */
  normalized: number;
  nullRaw: number;
  perfect: number;
}

/**
 * Scores a detector per profile. The null baseline is NAB's null detector (a constant 0.5 on
 * every row) put through the same optimisation; perfect is tp × scorable windows.
 */
export function scoreCorpus(files: readonly ScoredFile[], profiles: Profiles): Record<string, ProfileScore> {
  const nullFiles = files.map((f) => ({ ...f, scores: new Float64Array(f.scores.length).fill(0.5) }));
  const out: Record<string, ProfileScore> = {};
  for (const [name, cost] of Object.entries(profiles)) {
    const res = optimizeThreshold(files, cost);
    const nullRaw = optimizeThreshold(nullFiles, cost).raw;
    const perfect = cost.tpWeight * res.windows;
    const denom = perfect - nullRaw;
    out[name] = {
      ...res,
      nullRaw,
      perfect,
      normalized: denom === 0 ? 0 : (100 * (res.raw - nullRaw)) / denom,
    };
  }
  return out;
}

/** Reads NAB's profiles.json shape ({name: {CostMatrix: {...}}}). */
export function parseProfiles(json: unknown): Profiles {
  const out: Profiles = {};
  for (const [name, v] of Object.entries(json as Record<string, { CostMatrix?: Record<string, number> }>)) {
    const m = v.CostMatrix;
    if (
      !m ||
      typeof m.tpWeight !== 'number' ||
      typeof m.fpWeight !== 'number' ||
      typeof m.fnWeight !== 'number'
    ) {
      throw new Error(`profile ${name}: CostMatrix with tpWeight, fpWeight and fnWeight expected`);
    }
    out[name] = { tpWeight: m.tpWeight, fpWeight: m.fpWeight, fnWeight: m.fnWeight };
  }
  return out;
}
