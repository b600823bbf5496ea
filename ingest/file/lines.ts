/** A line the file loader could not turn into a record: its 1-based number, why, and its text. */
export interface BadLine {
  line: number;
  message: string;
  text: string;
}

export interface Parsed<T> {
  records: T[];
  /** One per bad line, or per bad OTLP request (whose refused items it counts in its message). */
  bad: BadLine[];
  /** Records refused. */
  rejected: number;
}

/** Non-blank lines with their 1-based numbers. */
export function* numberedLines(text: string): Generator<{ line: number; text: string }> {
  let start = 0;
  for (let n = 1; start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    if (line.trim() !== '') yield { line: n, text: line };
  }
}

/**
 * OTLP JSON as files hold it: one Export*ServiceRequest, or one a line (the Collector's file
 * exporter). Calls `each` with each request and its line (1 for a whole-file request).
 */
export function otlpRequests(text: string, each: (json: Buffer, line: number) => void): void {
  try {
    JSON.parse(text);
    each(Buffer.from(text), 1);
    return;
  } catch {
    // not one document: one request a line
  }
  for (const { line, text: t } of numberedLines(text)) each(Buffer.from(t), line);
}
