import type { ScrapeJobConfig } from '../../core/config/ingest/scrape.ts';
import type { Config } from '../../core/config/schema.ts';
import type { Attributes } from '../../core/model/records.ts';
import { SourceStats, type Source, type SourceContext, type SourceState } from '../source.ts';
import { FileSd, type TargetGroup } from './file-sd.ts';
import { ScrapeTarget, type TargetState } from './scrape-target.ts';

/**
 * Prometheus scrape (pull): one source per job of `ingest.scrape.jobs`, its targets from
 * static_configs and file_sd_configs. Targets appear and disappear with file_sd changes; each
 * runs its own loop (scrape-target.ts), so a slow or dead target never holds up the others.
 */

export class ScrapeSource implements Source {
  readonly name: string;
  readonly kind = 'scrape';
  private readonly stats: SourceStats;
  private readonly targets = new Map<string, ScrapeTarget>();
  /** Target groups by origin: 'static' and each file_sd config. */
  private readonly groups = new Map<string, TargetGroup[]>();
  private readonly discoverers: FileSd[] = [];
  private ctx: SourceContext | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly job: ScrapeJobConfig) {
    this.name = `scrape/${job.job_name}`;
    this.stats = new SourceStats(this.name, this.kind);
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.groups.set(
      'static',
      this.job.static_configs.map((c) => ({ targets: c.targets, labels: c.labels, source: 'static' })),
    );
    this.sync();
    for (const [i, sd] of this.job.file_sd_configs.entries()) {
      const fileSd = new FileSd({
        ...sd,
        onUpdate: (groups) => {
          this.groups.set(`file_sd/${i}`, groups);
          this.sync();
        },
        onError: (message) => {
          this.stats.reject(0, message);
          ctx.log.warn(message);
        },
      });
      this.discoverers.push(fileSd);
      await fileSd.start();
    }
  }

  /** Starts loops for new targets and stops those no longer discovered. */
  private sync(): void {
    const ctx = this.ctx;
    if (!ctx || this.stopping) return;
    const wanted = new Map<string, { instance: string; labels: Attributes }>();
    for (const group of [...this.groups.values()].flat()) {
      for (const instance of group.targets) {
        const key = `${instance}|${JSON.stringify(group.labels)}`;
        wanted.set(key, { instance, labels: group.labels });
      }
    }
    for (const [key, t] of this.targets) {
      if (wanted.has(key)) continue;
      this.targets.delete(key);
      void t.stop();
    }
    for (const [key, w] of wanted) {
      if (this.targets.has(key)) continue;
      const t = new ScrapeTarget(this.job, w.instance, w.labels, {
        bus: ctx.bus,
        stats: this.stats,
        log: ctx.log,
        ...(ctx.deadLetters ? { deadLetters: ctx.deadLetters } : {}),
      });
      this.targets.set(key, t);
      t.start();
    }
  }

  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.discoverers.map((d) => d.stop()));
      await Promise.all([...this.targets.values()].map((t) => t.stop()));
    })();
    await this.stopping;
  }

  targetStates(): TargetState[] {
    return [...this.targets.values()].map((t) => t.state());
  }

  /** The usual counters plus every target's health, as Prometheus' /api/v1/targets shows it. */
  state(): SourceState & { targets: TargetState[] } {
    return { ...this.stats.state(), targets: this.targetStates() };
  }
}

export function scrapeSources(config: Config): Source[] {
  return config.ingest.scrape.jobs.map((job) => new ScrapeSource(job));
}
