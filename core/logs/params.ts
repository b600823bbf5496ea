import { WILDCARD, splitWhitespace } from './mask.ts';

/** JavaScript's `\s`. */
function isSpace(c: number): boolean {
  if (c > 32 && c < 0xa0) return false;
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Whitespace other than single spaces between words (`/\s\s|[\t\n\v\f\r]|^\s|\s$/`), by one
 * char scan: the regex was a tenth of a stamped line's cost.
 */
function irregularSpace(s: string): boolean {
  let prev = true; // a leading space counts as following one
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isSpace(c)) {
      prev = false;
      continue;
    }
    if (prev || (c >= 9 && c <= 13)) return true;
    prev = true;
  }
  return prev && s.length > 0;
}

/**
 * The message's values at the template's wildcards: the template's literal parts are located in
 * order in the whitespace-normalised message and the text between them is a parameter. Extra
 * patterns may span whitespace, so the message text rather than its tokens is used.
 */
export function extractParams(template: string, message: string): string[] {
  return paramsOf(template.split(WILDCARD), message);
}

export function paramsOf(parts: readonly string[], message: string): string[] {
  if (parts.length < 2) return [];
  const msg = irregularSpace(message) ? splitWhitespace(message).join(' ') : message;
  const first = parts[0]!;
  if (!msg.startsWith(first)) return [];
  const params: string[] = [];
  let pos = first.length;
  for (let i = 1; i < parts.length; i++) {
    const lit = parts[i]!;
    // The last literal anchors at the end; the others at their next occurrence (lazy, as
    // Drain's own parameter extraction does with `(.*?)`).
    const last = i === parts.length - 1;
    const at = last ? (msg.endsWith(lit) ? msg.length - lit.length : -1) : msg.indexOf(lit, pos);
    if (at < pos) return [];
    params.push(msg.slice(pos, at));
    pos = at + lit.length;
  }
  return params;
}
