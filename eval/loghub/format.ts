/**
 * Loghub's `log_format` → an anchored regex that splits a raw line into its header fields and
 * `Content`, built the way logparser's benchmark builds it: each `<Name>` becomes a lazy capture,
 * a run of spaces matches one or more whitespace characters, the rest is a regex fragment kept
 * as is (`\[`, `(\[<PID>\])?`), and the line is trimmed before matching.
 */
export interface LineFormat {
  fields: string[];
  regex: RegExp;
}

export function compileLogFormat(logFormat: string): LineFormat {
  const fields: string[] = [];
  let source = '';
  const parts = logFormat.split(/(<[^<>]+>)/);
  for (const part of parts) {
    const m = /^<([^<>]+)>$/.exec(part);
    if (m) {
      fields.push(m[1]!);
      source += `(?<${m[1]!}>.*?)`;
    } else {
      source += part.replace(/ +/g, '\\s+');
    }
  }
  if (!fields.includes('Content'))
    throw new Error(`log_format ${JSON.stringify(logFormat)} has no <Content>`);
  return { fields, regex: new RegExp(`^${source}$`) };
}

/** The Content field of a raw line, or undefined when the line does not match the format. */
export function contentOf(format: LineFormat, line: string): string | undefined {
  return format.regex.exec(line.trim())?.groups?.Content;
}
