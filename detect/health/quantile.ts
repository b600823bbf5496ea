/**
 * Quantile of an explicit-bucket histogram (per-bucket counts, counts.length = bounds.length + 1,
 * the last bucket unbounded), interpolated linearly inside the bucket as Prometheus's
 * histogram_quantile does; the unbounded bucket answers with the highest finite bound.
 */
export function histogramQuantile(q: number, bounds: number[], counts: number[]): number | undefined {
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0 || !bounds.length) return undefined;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (cum + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? Math.min(0, bounds[0]!) : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + (upper - lower) * ((rank - cum) / c);
    }
    cum += c;
  }
  return bounds[bounds.length - 1];
}
