/**
 * Time-series anomaly core: pure functions and classes, no bus or ClickHouse code. The detect role
 * keeps one AnomalyDetector per series, checkpoints it with serializeDetector, and backfills
 * history with scoreSeries.
 */
export { DEFAULT_ANOMALY_CONFIG, resolveAnomalyConfig, type AnomalyConfig } from './config.ts';
export { AnomalyDetector, DAILY_SLOTS, STATE_BYTES, STATE_LENGTH, type AnomalyResult } from './detector.ts';
export { CHECKPOINT_BYTES, restoreDetector, serializeDetector } from './state.ts';
export { scoreSeries, type BatchScores } from './batch.ts';
