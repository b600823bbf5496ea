import type { AnomalyConfig } from './config.ts';
import { AnomalyDetector, STATE_LENGTH } from './detector.ts';

// Checkpoint format: "OSA3" magic, then the state doubles little-endian. The layout version is in
// the magic so that an incompatible checkpoint is refused rather than misread.
const MAGIC = [0x4f, 0x53, 0x41, 0x33];
export const CHECKPOINT_BYTES = MAGIC.length + STATE_LENGTH * 8;

/** The detector's state as bytes (for `detector_state`); restoring them resumes exactly. */
export function serializeDetector(detector: AnomalyDetector): Uint8Array {
  const out = new Uint8Array(CHECKPOINT_BYTES);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  const s = detector.state;
  for (let i = 0; i < s.length; i++) view.setFloat64(MAGIC.length + i * 8, s[i]!, true);
  return out;
}

/** Rebuilds a detector from serializeDetector's bytes; throws on a foreign or truncated checkpoint. */
export function restoreDetector(bytes: Uint8Array, config: Partial<AnomalyConfig> = {}): AnomalyDetector {
  if (bytes.length !== CHECKPOINT_BYTES || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(
      `not an anomaly detector checkpoint (expected ${CHECKPOINT_BYTES} bytes starting "OSA3")`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const state = new Float64Array(STATE_LENGTH);
  for (let i = 0; i < STATE_LENGTH; i++) state[i] = view.getFloat64(MAGIC.length + i * 8, true);
  return new AnomalyDetector(config, state);
}
