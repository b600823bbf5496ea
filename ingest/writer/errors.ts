import { ClickHouseError } from '@clickhouse/client';

/**
 * Which insert failures are the data's fault (bisect the batch, dead-letter the bad rows) and
 * which are ClickHouse's state (retry with backoff: connection refused/reset, timeouts, too
 * many parts, memory limits, read-only replicas, and anything unknown). Unknown errors retry:
 * dead-lettering good rows because a table is missing would lose data, retrying only waits.
 */

/** ClickHouse error codes that mean "these rows cannot be stored as they are". */
const DATA_ERROR_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  33, // CANNOT_READ_ALL_DATA
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  43, // ILLEGAL_TYPE_OF_ARGUMENT (a DEFAULT expression on this row's values)
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  128, // TOO_LARGE_ARRAY_SIZE
  131, // TOO_LARGE_STRING_SIZE
  190, // SIZES_OF_ARRAYS_DONT_MATCH
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
  407, // DECIMAL_OVERFLOW
  469, // VIOLATED_CONSTRAINT
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);

const TOO_MANY_PARTS = 252;

/** True when the rows are at fault; false when the insert should be retried as it is. */
export function isDataError(err: unknown): boolean {
  if (!(err instanceof ClickHouseError)) return false;
  const code = Number(err.code);
  if (DATA_ERROR_CODES.has(code)) return true;
  // 252 is both "too many parts" (wait for merges: retry) and "too many partitions for a single
  // INSERT block" (timestamps spread over too many days: split the batch).
  return code === TOO_MANY_PARTS && /partitions/i.test(err.message);
}

/** One line for logs and dead_letters.reason. */
export function errorText(err: unknown): string {
  if (err instanceof ClickHouseError)
    return `ClickHouse ${err.code} ${err.type ?? ''}: ${err.message}`.trim();
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** The batch's partition was revoked or the bus is closing: give up without committing. */
export class StaleBatchError extends Error {}
