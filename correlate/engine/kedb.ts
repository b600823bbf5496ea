import type { Alert } from '../../core/model/records.ts';
import type { Ci, KnownError } from './model.ts';

/**
 * Known-error matching. A known error's symptoms are patterns on alert fields
 * (`alertname=HighErrorRatio`, `label.code=5..`, `annotation.summary~timeout`), log template ids
 * (`template:<id>`), or plain text compared with the alerts' summaries by word overlap. Its
 * scope (CI classes or services) must include an affected CI when given. The score mixes the
 * share of symptoms present, scope and the title's similarity; below the threshold nothing is
 * attached: no link is better than a wrong one.
 */
export interface KnownErrorMatch {
  id: string;
  score: number;
  workaround: string;
  title: string;
  reason: string;
}

interface Compiled {
  ke: KnownError;
  patterns: ((a: Alert) => boolean)[];
  texts: Set<string>[];
  titleWords: Set<string>;
}

const FIELD = /^([a-z_]+(?:\.[A-Za-z0-9_.-]+)?)\s*(=|~|!=)\s*(.+)$/;

export class KnownErrorMatcher {
  private compiled: Compiled[] = [];

  constructor(
    knownErrors: Iterable<KnownError> = [],
    private readonly threshold = 0.6,
  ) {
    this.load(knownErrors);
  }

  load(knownErrors: Iterable<KnownError>): void {
    this.compiled = [];
    for (const ke of knownErrors) {
      if (/retired|closed|cancel/i.test(ke.status)) continue;
      const patterns: Compiled['patterns'] = [];
      const texts: Set<string>[] = [];
      for (const s of ke.symptoms) {
        const p = compilePattern(s);
        if (p) patterns.push(p);
        else if (words(s).size) texts.push(words(s));
      }
      this.compiled.push({ ke, patterns, texts, titleWords: words(ke.title) });
    }
  }

  get size(): number {
    return this.compiled.length;
  }

  /**
   * `items`: the incident's alerts, each with the CI it is bound to and whether that CI is the
   * top root cause. A symptom counts only on an alert whose CI is in the known error's scope
   * (a disk-full alert on a service does not make a host's known error), and a known error
   * whose symptoms show only away from the root cause scores lower.
   */
  match(items: { alert: Alert; ci?: Ci; onRoot: boolean }[]): KnownErrorMatch[] {
    // Word sets from a bounded sample: an incident of thousands of alerts says it in its first ones.
    const alerts = items.slice(0, 100).map((i) => i.alert);
    const text = words(
      alerts
        .map(
          (a) =>
            `${a.labels.alertname ?? ''} ${a.annotations.summary ?? ''} ${a.annotations.description ?? ''}`,
        )
        .join(' '),
    );
    const out: KnownErrorMatch[] = [];
    for (const c of this.compiled) {
      const scope = new Set(c.ke.scope.map((x) => x.toLowerCase()));
      const inScope = (ci?: Ci) =>
        scope.size === 0 ||
        (!!ci &&
          (scope.has(ci.class.toLowerCase()) ||
            scope.has(ci.name.toLowerCase()) ||
            scope.has((ci.service ?? '').toLowerCase())));
      const scoped = items.filter((i) => inScope(i.ci));
      if (!scoped.length) continue;
      const total = c.patterns.length + c.texts.length;
      if (!total) continue;
      let hits = 0;
      let onRoot = false;
      for (const p of c.patterns) {
        const hit = scoped.filter((i) => p(i.alert));
        if (hit.length) hits++;
        if (hit.some((i) => i.onRoot)) onRoot = true;
      }
      const scopedText = words(
        scoped.map((i) => `${i.alert.labels.alertname ?? ''} ${i.alert.annotations.summary ?? ''}`).join(' '),
      );
      for (const t of c.texts) hits += overlap(t, scopedText) >= 0.6 ? 1 : 0;
      if (hits === 0) continue;
      const share = hits / total;
      const title = overlap(c.titleWords, text);
      let score = 0.6 * share + 0.25 * (scope.size ? 1 : 0.5) + 0.15 * title;
      if (c.patterns.length && !onRoot) score *= 0.7;
      if (score < this.threshold) continue;
      out.push({
        id: c.ke.id,
        title: c.ke.title,
        workaround: c.ke.workaround,
        score: Math.round(score * 1000) / 1000,
        reason: `${hits} of ${total} symptoms present${c.ke.scope.length ? `, in scope (${c.ke.scope.join(', ')})` : ''}${onRoot ? ', on the root cause' : ''}`,
      });
    }
    return out.sort((a, b) => b.score - a.score).slice(0, 3);
  }
}

function compilePattern(s: string): ((a: Alert) => boolean) | undefined {
  const t = /^template:(.+)$/.exec(s.trim());
  if (t) {
    const id = t[1]!.trim();
    return (a) => a.labels.template_id === id;
  }
  const m = FIELD.exec(s.trim());
  if (!m) return undefined;
  const [, field, op, value] = m;
  let re: RegExp;
  try {
    // `=` is a whole-value match (as Alertmanager matchers), `~` a search.
    re = new RegExp(op === '~' ? value! : `^(?:${value!})$`, 'i');
  } catch {
    return undefined;
  }
  const get = getter(field!);
  if (!get) return undefined;
  return op === '!=' ? (a) => !re.test(get(a) ?? '') : (a) => re.test(get(a) ?? '');
}

function getter(field: string): ((a: Alert) => string | undefined) | undefined {
  if (field.startsWith('label.')) return (a) => a.labels[field.slice(6)];
  if (field.startsWith('annotation.')) return (a) => a.annotations[field.slice(11)];
  switch (field) {
    case 'alertname':
      return (a) => a.labels.alertname;
    case 'service':
      return (a) => a.service ?? a.labels.service;
    case 'kind':
      return (a) => a.kind;
    case 'severity':
      return (a) => a.severity;
    case 'summary':
      return (a) => a.annotations.summary;
    case 'template':
      return (a) => a.labels.template_id ?? a.labels.template;
    default:
      return (a) => a.labels[field];
  }
}

const STOP = new Set([
  'the',
  'a',
  'an',
  'of',
  'to',
  'in',
  'on',
  'is',
  'are',
  'for',
  'and',
  'or',
  'with',
  'at',
  'by',
  'from',
]);

export function words(s: string): Set<string> {
  const out = new Set<string>();
  for (const w of s.toLowerCase().split(/[^a-z0-9]+/))
    if (w.length > 1 && !STOP.has(w) && !/^\d+$/.test(w)) out.add(w);
  return out;
}

/** Share of `a`'s words found in `b`. */
function overlap(a: Set<string>, b: Set<string>): number {
  if (!a.size) return 0;
  let n = 0;
  for (const w of a) if (b.has(w)) n++;
  return n / a.size;
}
