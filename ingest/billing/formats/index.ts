import type { BillingFormat } from '../../../core/config/ingest/billing.ts';
import { FocusFileError, REQUIRED_COLUMNS } from '../focus.ts';
import { awsCurReader } from './aws-cur.ts';
import { azureReader } from './azure.ts';
import { focusReader } from './focus.ts';
import { gcpReader } from './gcp.ts';
import { ociReader } from './oci.ts';
import type { BillingFormatReader } from './types.ts';

/** Every format reader: a new provider is one file and one entry here. */
export const READERS: readonly BillingFormatReader[] = [
  focusReader,
  awsCurReader,
  azureReader,
  gcpReader,
  ociReader,
];

/**
 * The reader for a file: the one asked for, or under `auto` the one most sure of these
 * columns (FOCUS wins a tie: a FOCUS export may carry provider columns as x_ extensions).
 */
export function chooseReader(
  columns: readonly string[],
  requested: BillingFormat,
  file: string,
): BillingFormatReader {
  if (requested !== 'auto') {
    const r = READERS.find((x) => x.format === requested);
    if (!r) throw new FocusFileError(`${file}: unknown billing format ${requested}`);
    return r;
  }
  let best: BillingFormatReader | undefined;
  let bestScore = 0;
  for (const r of READERS) {
    const s = r.detect(columns);
    if (s > bestScore) [best, bestScore] = [r, s];
  }
  if (!best) {
    const have = new Set(columns.map((c) => c.trim().toLowerCase()));
    const missing = REQUIRED_COLUMNS.filter((c) => !have.has(c.toLowerCase()));
    throw new FocusFileError(
      `${file}: not a FOCUS file: header lacks ${missing.join(', ')}; nor an AWS CUR, Azure, GCP or OCI export`,
    );
  }
  return best;
}

export type { BillingFormatReader } from './types.ts';
