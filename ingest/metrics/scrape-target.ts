import type { Bus } from '../../core/bus/types.ts';
import { TOPICS } from '../../core/bus/topics.ts';
import { durationMs, scrapeTimeoutMs, type ScrapeJobConfig } from '../../core/config/ingest/scrape.ts';
import type { Logger } from '../../core/log.ts';
import type { Attributes, MetricPoint } from '../../core/model/records.ts';
import type { DeadLetterSink } from '../dead-letters.ts';
import { seriesKey } from '../keys.ts';
import type { SourceStats } from '../source.ts';
import { formatOf, parseExposition } from './exposition.ts';
import { familiesToPoints, mergeLabels, msToNanos } from './prom-points.ts';

/**
 * One scrape target's loop: fetch with a timeout, parse, publish the samples plus the series
 * Prometheus adds per scrape (up, scrape_duration_seconds, scrape_samples_scraped,
 * scrape_samples_post_metric_relabeling). A failure marks the target down; the loop goes on.
 */

/** Prometheus' own Accept header: OpenMetrics preferred, the text format as fallback. */
export const ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
  'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export interface TargetState {
  job: string;
  instance: string;
  url: string;
  labels: Attributes;
  health: 'unknown' | 'up' | 'down';
  lastScrape?: string;
  lastScrapeDurationSeconds?: number;
  lastSamples?: number;
  lastError?: string;
}

export interface TargetDeps {
  bus: Bus;
  stats: SourceStats;
  log: Logger;
  /** Each unparseable line goes here, with the target URL and its line number. */
  deadLetters?: DeadLetterSink;
}

/** At most this many line errors are logged per scrape; all are counted. */
const LOGGED_ERRORS = 5;

export class ScrapeTarget {
  readonly url: string;
  private readonly abort = new AbortController();
  private readonly labels: Attributes;
  private readonly resource: Attributes;
  private done: Promise<void> | undefined;
  private status: Pick<
    TargetState,
    'health' | 'lastScrape' | 'lastScrapeDurationSeconds' | 'lastSamples' | 'lastError'
  > = {
    health: 'unknown',
  };

  constructor(
    private readonly job: ScrapeJobConfig,
    readonly instance: string,
    /** Labels of the target group (static or file_sd); those starting with __ are dropped. */
    groupLabels: Attributes,
    private readonly deps: TargetDeps,
  ) {
    const query = new URLSearchParams();
    for (const [k, vs] of Object.entries(job.params)) for (const v of vs) query.append(k, v);
    const qs = query.toString();
    this.url = `${job.scheme}://${instance}${job.metrics_path}${qs ? `?${qs}` : ''}`;
    this.labels = { job: job.job_name, instance };
    for (const [k, v] of Object.entries(groupLabels)) if (!k.startsWith('__')) this.labels[k] = v;
    this.resource = {
      ...Object.fromEntries(Object.entries(this.labels).filter(([k]) => k !== 'job' && k !== 'instance')),
      'service.name': this.labels.job!,
      'service.instance.id': this.labels.instance!,
    };
  }

  start(): void {
    this.done ??= this.loop();
  }

  /** Cancels a scrape in flight and waits for the loop to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  state(): TargetState {
    return {
      job: this.job.job_name,
      instance: this.instance,
      url: this.url,
      labels: this.labels,
      ...this.status,
    };
  }

  private async loop(): Promise<void> {
    const interval = durationMs(this.job.scrape_interval);
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const started = Date.now();
      await this.scrapeOnce().catch((err: unknown) =>
        this.deps.log.error({ err, target: this.url }, 'scrape failed'),
      );
      const wait = Math.max(0, started + interval - Date.now());
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }

  /** One scrape; resolves after its points are published. Exported for tests and benches. */
  async scrapeOnce(): Promise<void> {
    const { stats, log } = this.deps;
    const startMs = Date.now();
    const t0 = performance.now();
    const timeoutMs = scrapeTimeoutMs(this.job);
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]);
    let points: MetricPoint[] = [];
    let scraped = 0;
    let error: string | undefined;
    try {
      const res = await fetch(this.url, {
        headers: {
          accept: ACCEPT,
          'user-agent': 'opsight-scrape',
          'x-prometheus-scrape-timeout-seconds': String(timeoutMs / 1000),
        },
        signal,
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`);
      }
      const text = await res.text();
      const parsed = parseExposition(text, formatOf(res.headers.get('content-type')));
      const conv = familiesToPoints(parsed.families, {
        scrapeTimeMs: startMs,
        ignoreTimestamps: !this.job.honor_timestamps,
        resource: this.resource,
        targetLabels: this.labels,
        honorLabels: this.job.honor_labels,
      });
      points = conv.points;
      scraped = parsed.sampleLines;
      const errors = [...parsed.errors, ...conv.errors];
      stats.receive(parsed.sampleLines);
      stats.accept(conv.accepted);
      if (errors.length) {
        const first = errors[0]!;
        stats.reject(errors.length, `${this.url} line ${first.line}: ${first.message}`);
        for (const e of errors.slice(0, LOGGED_ERRORS))
          log.warn({ target: this.url, line: e.line }, `rejected: ${e.message}`);
        this.deadLetter(text, errors);
      }
    } catch (err) {
      if (this.abort.signal.aborted) return; // stopping: no verdict on this target
      // The timeout signal's reason (a TimeoutError) is what fetch and the body read reject with.
      error = signal.aborted ? `scrape timed out after ${timeoutMs} ms` : describeFetchError(err);
      points = [];
      stats.reject(0, `${this.url}: ${error}`);
      log.warn({ target: this.url, error }, 'target down');
    }
    const duration = (performance.now() - t0) / 1000;
    const time = msToNanos(startMs);
    const synthetic = (name: string, value: number): MetricPoint => ({
      name,
      type: 'gauge',
      resource: this.resource,
      attributes: mergeLabels({}, this.labels, false),
      timeUnixNano: time,
      value,
    });
    points.push(
      synthetic('up', error ? 0 : 1),
      synthetic('scrape_duration_seconds', duration),
      synthetic('scrape_samples_scraped', scraped),
      synthetic('scrape_samples_post_metric_relabeling', scraped),
    );
    this.status = {
      health: error ? 'down' : 'up',
      lastScrape: new Date(startMs).toISOString(),
      lastScrapeDurationSeconds: duration,
      lastSamples: scraped,
      ...(error ? { lastError: error } : {}),
    };
    await this.deps.bus.publish(
      TOPICS.metrics,
      points.map((p) => ({ key: seriesKey(p), value: p })),
    );
  }

  /** One dead letter per rejected line: the line's text, the target URL and the line number. */
  private deadLetter(text: string, errors: readonly { line: number; message: string }[]): void {
    const sink = this.deps.deadLetters;
    if (!sink) return;
    const lines = text.split('\n');
    for (const e of errors) {
      sink.add({
        source: this.deps.stats.name,
        topic: TOPICS.metrics,
        file: this.url,
        line: e.line,
        reason: e.message,
        payload: (lines[e.line - 1] ?? '').replace(/\r$/, ''),
      });
    }
  }
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED, ENOTFOUND, ...) in its cause. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.cause?.code) return `${e.message}: ${e.cause.code} ${e.cause.message ?? ''}`.trim();
  return e.message;
}
