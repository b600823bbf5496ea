import { WILDCARD, splitWhitespace } from './mask.ts';

const IRREGULAR_SPACE = /\s\s|[\t\n\v\f\r]|^\s|\s$/;

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
  const msg = IRREGULAR_SPACE.test(message) ? splitWhitespace(message).join(' ') : message;
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
