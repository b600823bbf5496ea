import { WILDCARD, compilePatterns, maskMessage } from './mask.ts';
import { paramsOf } from './params.ts';
import { templateId } from './template-id.ts';

/**
 * Online log template mining in the spirit of Drain (He et al., ICWS 2017): a fixed-depth tree
 * routes a masked message by its token count and its first tokens to a small list of clusters;
 * the most similar cluster above the threshold absorbs the message (differing positions become
 * `<*>`), otherwise a new cluster starts. Changes from the original, none of them per system:
 * - variables are masked before the descent, and a run of them folds into one (see mask.ts);
 * - two tokens that both hold a variable (`broadcast_<*>`, `rdd_<*>`) count as equal;
 * - a template that covers a message exactly (every constant equal) matches it, however many
 *   wildcards it has (Drain's similarity alone would reject `a <*> b <*>` for `a 1 b 2`);
 * - clusters differing at one non-leading position that has taken `mergeValues` distinct
 *   values merge into one template with a variable there (digit-free variables: user names,
 *   service names); two values are kept apart (`bytes`/`values`, `view`/`modify`);
 * - a template that generalises absorbs the clusters of its leaf that it now covers.
 *
 * Ids: a cluster's id is a hash of the text it was created with (template-id.ts) and never
 * changes; when the template generalises the text changes under the same id. A merged-away
 * cluster's id becomes an alias of the surviving one (resolve()). State is JSON (snapshot /
 * restore), so a restart resumes with the same ids. Memory is bounded by maxClusters (least
 * recently used clusters are evicted).
 */

export interface MinerOptions {
  /** Tree depth as in Drain: depth - 2 leading tokens route a message (default 4). */
  depth?: number;
  /** Share of positions whose constant token a message must match (default 0.8). */
  similarity?: number;
  /** Children per tree node before further tokens share the `<*>` branch (default 100). */
  maxChildren?: number;
  /** Clusters kept; the least recently used are evicted beyond it (default 50 000). */
  maxClusters?: number;
  /** Extra masking patterns applied to the message first (e.g. Loghub's per-system `regex`). */
  extraPatterns?: readonly (RegExp | string)[];
  /** Distinct values at one position that make sibling clusters one template (default 3). */
  mergeValues?: number;
}

export interface TemplateMatch {
  /** Stable id of the cluster (see templateId); unchanged when the template generalises. */
  templateId: string;
  /** The template text now, `<*>` for each variable. */
  template: string;
  /** The message's values at the template's variables, in order. */
  params: string[];
  /** The message started a new cluster. */
  isNew: boolean;
  /** The template text changed with this message (was generalised or merged). */
  changed: boolean;
  /** Ids of clusters merged into this one by this message (their lines now belong here). */
  merged: string[];
}

export interface TemplateInfo {
  templateId: string;
  template: string;
  count: number;
}

/** Serialisable miner state (JSON-safe). */
export interface MinerState {
  version: 1;
  clock: number;
  clusters: { id: string; tokens: string[]; path: string[]; count: number; lastUsed: number }[];
  /** Ids of merged-away clusters → the id that absorbed them. */
  aliases: Record<string, string>;
}

interface Cluster {
  id: string;
  tokens: string[];
  /** Tree keys the cluster was filed under (from its first message). */
  path: string[];
  count: number;
  lastUsed: number;
  /** tokens.join(' ') and its literal parts around `<*>`, rebuilt when the template changes. */
  text: string;
  parts: string[];
  leaf: Node;
  lengthBucket: Cluster[];
}

interface Node {
  children: Map<string, Node>;
  clusters: Cluster[];
}

const newNode = (): Node => ({ children: new Map(), clusters: [] });

const keyOf = (tok: string) => (tok.includes('<') && tok.includes(WILDCARD) ? WILDCARD : tok);

export class TemplateMiner {
  readonly depth: number;
  readonly similarity: number;
  readonly maxChildren: number;
  readonly maxClusters: number;
  readonly mergeValues: number;
  private readonly patterns: RegExp[];
  private readonly root = new Map<number, Node>();
  private readonly byLength = new Map<number, Cluster[]>();
  private readonly byId = new Map<string, Cluster>();
  private readonly aliases = new Map<string, string>();
  private clock = 0;

  constructor(options: MinerOptions = {}) {
    this.depth = Math.max(2, options.depth ?? 4);
    this.similarity = options.similarity ?? 0.8;
    this.maxChildren = options.maxChildren ?? 100;
    this.maxClusters = options.maxClusters ?? 50_000;
    this.patterns = compilePatterns(options.extraPatterns);
    this.mergeValues = options.mergeValues ?? 3;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Mines one message: finds or creates its cluster and returns its id, template and params. */
  add(message: string): TemplateMatch {
    const tokens = maskMessage(message, this.patterns);
    this.clock++;
    let cluster = this.find(tokens);
    let isNew = false;
    let changed = false;
    let merged: string[] = [];
    if (!cluster) {
      cluster = this.create(tokens);
      isNew = true;
      merged = this.mergeSiblings(cluster);
      if (merged.length) {
        // It joined an existing template, which is not new (and has just generalised).
        cluster = this.byId.get(this.resolve(cluster.id))!;
        isNew = false;
        changed = true;
      }
    } else {
      changed = generalise(cluster.tokens, tokens);
      cluster.count++;
      if (changed) {
        merged = this.absorbCovered(cluster);
        refreshText(cluster);
      }
    }
    cluster.lastUsed = this.clock;
    if (isNew && this.byId.size > this.maxClusters) this.evict();
    return {
      templateId: cluster.id,
      template: cluster.text,
      params: paramsOf(cluster.parts, message),
      isNew,
      changed,
      merged,
    };
  }

  /** Finds the cluster of a message without learning from it. */
  match(message: string): TemplateInfo | undefined {
    const c = this.find(maskMessage(message, this.patterns));
    return c && { templateId: c.id, template: c.text, count: c.count };
  }

  /** The id a (possibly merged-away) template id now belongs to. */
  resolve(id: string): string {
    let cur = id;
    for (let i = 0; i < 64; i++) {
      const next = this.aliases.get(cur);
      if (next === undefined) return cur;
      cur = next;
    }
    return cur;
  }

  templates(): TemplateInfo[] {
    return [...this.byId.values()].map((c) => ({ templateId: c.id, template: c.text, count: c.count }));
  }

  snapshot(): MinerState {
    return {
      version: 1,
      clock: this.clock,
      clusters: [...this.byId.values()].map((c) => ({
        id: c.id,
        tokens: [...c.tokens],
        path: [...c.path],
        count: c.count,
        lastUsed: c.lastUsed,
      })),
      aliases: Object.fromEntries(this.aliases),
    };
  }

  static restore(state: MinerState, options: MinerOptions = {}): TemplateMiner {
    if (state.version !== 1) throw new Error(`unknown miner state version ${String(state.version)}`);
    const m = new TemplateMiner(options);
    m.clock = state.clock;
    for (const c of state.clusters) m.insert(c.id, [...c.tokens], [...c.path], c.count, c.lastUsed);
    for (const [from, to] of Object.entries(state.aliases)) m.aliases.set(from, to);
    return m;
  }

  private find(tokens: string[]): Cluster | undefined {
    const leaf = this.walk(tokens, false);
    if (!leaf) return undefined;
    // A template that covers the message exactly (every constant equal) is a match however
    // many wildcards it has; otherwise the most similar one above the threshold.
    return (
      best(leaf.clusters, tokens, this.similarity) ?? leaf.clusters.find((c) => covers(c.tokens, tokens))
    );
  }

  private pathOf(tokens: string[]): string[] {
    const n = Math.min(this.depth - 2, tokens.length);
    const path = new Array<string>(n);
    for (let i = 0; i < n; i++) path[i] = keyOf(tokens[i]!);
    return path;
  }

  /** Walks (or with create, builds) the tree branch of a token list, or of a stored path. */
  private walk(tokens: readonly string[], create: boolean, path?: readonly string[]): Node | undefined {
    let node: Node | undefined = this.root.get(tokens.length);
    if (!node) {
      if (!create) return undefined;
      node = newNode();
      this.root.set(tokens.length, node);
    }
    const n = Math.min(this.depth - 2, tokens.length);
    for (let i = 0; i < n; i++) {
      const key = path ? path[i]! : keyOf(tokens[i]!);
      let next: Node | undefined = node.children.get(key);
      if (!next) {
        if (create) {
          const k = key === WILDCARD || node.children.size < this.maxChildren ? key : WILDCARD;
          next = node.children.get(k);
          if (!next) {
            next = newNode();
            node.children.set(k, next);
          }
        } else {
          next = node.children.get(WILDCARD);
          if (!next) return undefined;
        }
      }
      node = next;
    }
    return node;
  }

  private create(tokens: string[]): Cluster {
    const text = tokens.join(' ');
    let id = templateId(text);
    for (let salt = 1; this.byId.has(id) || this.aliases.has(id); salt++) id = templateId(text, salt);
    return this.insert(id, tokens, this.pathOf(tokens), 1, this.clock);
  }

  private insert(id: string, tokens: string[], path: string[], count: number, lastUsed: number): Cluster {
    const leaf = this.walk(tokens, true, path)!;
    let bucket = this.byLength.get(tokens.length);
    if (!bucket) {
      bucket = [];
      this.byLength.set(tokens.length, bucket);
    }
    const c: Cluster = { id, tokens, path, count, lastUsed, text: '', parts: [], leaf, lengthBucket: bucket };
    refreshText(c);
    leaf.clusters.push(c);
    bucket.push(c);
    this.byId.set(id, c);
    return c;
  }

  private remove(c: Cluster): void {
    removeFrom(c.leaf.clusters, c);
    removeFrom(c.lengthBucket, c);
    this.byId.delete(c.id);
  }

  /** After a template generalised, clusters of the same length it now matches join it. */
  private absorbCovered(c: Cluster): string[] {
    const merged: string[] = [];
    for (const other of [...c.leaf.clusters]) {
      if (other === c || !covers(c.tokens, other.tokens)) continue;
      generalise(c.tokens, other.tokens);
      c.count += other.count;
      this.remove(other);
      this.aliases.set(other.id, c.id);
      merged.push(other.id);
    }
    return merged;
  }

  /**
   * Clusters that differ from a new one at a single position, and nowhere else, are one
   * template with a variable there once that position has taken mergeValues distinct values
   * (`removing chargen`, `removing daytime`, `removing echo`); two values are more often two
   * templates (`Starting ...`, `Ending ...`). The most used cluster keeps its id; the others become
   * aliases of it (see resolve).
   */
  private mergeSiblings(c: Cluster): string[] {
    const byPos = new Map<number, Cluster[]>();
    for (const other of c.lengthBucket) {
      if (other === c) continue;
      const p = singleDifference(c.tokens, other.tokens);
      if (p < 0) continue;
      const list = byPos.get(p);
      if (list) list.push(other);
      else byPos.set(p, [other]);
    }
    for (const [p, siblings] of byPos) {
      // Leading tokens route the tree because they name the event: they stay constant.
      if (p < this.depth - 2 || siblings.length + 1 < this.mergeValues) continue;
      const group = [...siblings, c];
      // The most used cluster keeps its id (the first created among equals: bucket order).
      const keep = group.reduce((a, b) => (b.count > a.count ? b : a));
      const tokens = [...keep.tokens];
      tokens[p] = WILDCARD;
      const path = [...keep.path];
      if (p < path.length) path[p] = WILDCARD;
      let count = 0;
      for (const g of group) {
        count += g.count;
        this.remove(g);
        if (g !== keep) this.aliases.set(g.id, keep.id);
      }
      this.insert(keep.id, tokens, path, count, this.clock);
      // The new cluster's id was never handed out: only the others need re-pointing.
      return siblings.filter((g) => g !== keep).map((g) => g.id);
    }
    return [];
  }

  /** Drops the least recently used tenth of the clusters (amortised O(1) per message). */
  private evict(): void {
    const all = [...this.byId.values()].sort((a, b) => a.lastUsed - b.lastUsed);
    const drop = Math.max(1, Math.floor(this.maxClusters / 10));
    for (const c of all.slice(0, drop)) this.remove(c);
    // Aliases pointing at evicted clusters are useless; keep the map bounded too.
    if (this.aliases.size > this.maxClusters) {
      for (const [from, to] of this.aliases) if (!this.byId.has(this.resolve(to))) this.aliases.delete(from);
    }
  }
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/** Share of positions where the template's constant equals the message's token (Drain's seqDist). */
export function similarity(template: readonly string[], tokens: readonly string[]): number {
  let same = 0;
  for (let i = 0; i < template.length; i++) {
    const t = template[i]!;
    // As in Drain, a wildcard is no evidence of similarity: a general template must not
    // attract every message of its length.
    if (t === WILDCARD) continue;
    const x = tokens[i]!;
    // Two tokens that both hold a variable (`broadcast_<*>`, `rdd_<*>`) are the same variable.
    if (t === x || (x.includes(WILDCARD) && t.includes(WILDCARD))) same++;
  }
  return template.length === 0 ? 1 : same / template.length;
}

function best(
  clusters: readonly Cluster[],
  tokens: readonly string[],
  threshold: number,
): Cluster | undefined {
  let found: Cluster | undefined;
  let bestSim = -1;
  for (const c of clusters) {
    const s = similarity(c.tokens, tokens);
    if (s > bestSim) {
      bestSim = s;
      found = c;
    }
  }
  return bestSim >= threshold ? found : undefined;
}

/** Makes template cover tokens: differing positions become `<*>`. Returns whether it changed. */
function generalise(template: string[], tokens: readonly string[]): boolean {
  let changed = false;
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== tokens[i] && template[i] !== WILDCARD) {
      template[i] = WILDCARD;
      changed = true;
    }
  }
  return changed;
}

function refreshText(c: Cluster): void {
  c.text = c.tokens.join(' ');
  c.parts = c.text.split(WILDCARD);
}

/**
 * Every constant token of the template equals the message's, and each wildcard faces a variable
 * token unless the template has constants to anchor it: a template of wildcards alone would
 * otherwise swallow every message of its length (`ambient=<*>` → `<*>` covering `critical`).
 */
function covers(template: readonly string[], tokens: readonly string[]): boolean {
  let anchored = false;
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== WILDCARD) {
      anchored = true;
      break;
    }
  }
  for (let i = 0; i < template.length; i++) {
    const t = template[i]!;
    if (t === WILDCARD) {
      if (!anchored && !tokens[i]!.includes(WILDCARD)) return false;
    } else if (t !== tokens[i]) return false;
  }
  return true;
}

/** The only position where two templates differ (wildcards included), or -1. */
function singleDifference(a: readonly string[], b: readonly string[]): number {
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (at >= 0) return -1;
      at = i;
    }
  }
  return at;
}
