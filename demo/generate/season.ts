/**
 * Daily seasonality of the shop: traffic peaks mid-afternoon UTC and bottoms out at night,
 * weekends carry less. Smooth, so the anomaly detector's daily profile can learn it.
 */
const DAY = 86_400_000;

export function traffic(simMs: number): number {
  const hour = (((simMs % DAY) + DAY) % DAY) / 3_600_000;
  const day = new Date(simMs).getUTCDay();
  const weekly = day === 0 || day === 6 ? 0.8 : 1;
  return weekly * (1 + 0.55 * Math.sin((2 * Math.PI * (hour - 9)) / 24));
}

/** Billing per day: weekends at 85%, a slow growth of 0.3% a day. */
export function billingDay(dayStartMs: number, anchorMs: number): number {
  const day = new Date(dayStartMs).getUTCDay();
  const weekly = day === 0 || day === 6 ? 0.85 : 1;
  return weekly * (1 + (0.003 * (dayStartMs - anchorMs)) / DAY);
}
