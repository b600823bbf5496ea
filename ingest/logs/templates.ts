import { TOPICS } from '../../core/bus/topics.ts';
import type { Bus, OutgoingRecord } from '../../core/bus/types.ts';
import type { TemplatesConfig } from '../../core/config/ingest/logs.ts';
import type { Logger } from '../../core/log.ts';
import { TemplateMiner, type MinerState } from '../../core/logs/drain.ts';
import type { LogRecord } from '../../core/model/records.ts';
import type { StateStore } from '../../core/state/store.ts';

/**
 * Template stamping at ingest: every log record gets its template id, template text and
 * parameters before it reaches the bus, so otel_logs stores them with the row and every
 * consumer (the writer, detect/logs) sees the same ids without mining again.
 *
 * One miner per service. Ids are a hash of the text a cluster was created with, so another
 * ingest process, or this one after a restart, gives the same kind of line the same id; the
 * miners are checkpointed to detector_state (detector `templates`, one key per service) and
 * restored at start so that holds even for clusters born from an unmasked first line.
 */
export const TEMPLATES_STATE = 'templates';

export interface TemplaterOptions {
  similarity: number;
  state?: StateStore;
  log?: Logger;
}

export class LogTemplater {
  private readonly miners = new Map<string, TemplateMiner>();
  private readonly dirty = new Set<string>();

  constructor(private readonly options: TemplaterOptions) {}

  /** Restores the checkpointed miners; a broken entry is logged and that service starts fresh. */
  async load(): Promise<void> {
    if (!this.options.state) return;
    for (const [service, json] of await this.options.state.load(TEMPLATES_STATE)) {
      try {
        const state = JSON.parse(json) as MinerState;
        this.miners.set(service, TemplateMiner.restore(state, { similarity: this.options.similarity }));
      } catch (err) {
        this.options.log?.warn({ err, service }, 'template miner state unreadable; starting fresh');
      }
    }
  }

  stamp(records: readonly LogRecord[]): void {
    // Consecutive records mostly share a service: its miner is looked up (and marked) once.
    let service: string | undefined;
    let miner: TemplateMiner | undefined;
    for (const r of records) {
      if (!r || typeof r.body !== 'string') continue; // the writer dead-letters it with the reason
      const s = r.serviceName || r.resource?.['service.name'] || '';
      if (s !== service || !miner) {
        service = s;
        miner = this.miners.get(s);
        if (!miner) {
          miner = new TemplateMiner({ similarity: this.options.similarity });
          this.miners.set(s, miner);
        }
        this.dirty.add(s);
      }
      const m = miner.add(r.body);
      r.templateId = m.templateId;
      r.template = m.template;
      r.templateParams = m.params;
    }
  }

  /** Saves the miners that changed since the last checkpoint. */
  async checkpoint(): Promise<void> {
    const state = this.options.state;
    if (!state || !this.dirty.size) return;
    const entries: [string, string][] = [];
    for (const service of this.dirty) {
      const miner = this.miners.get(service);
      if (miner) entries.push([service, JSON.stringify(miner.snapshot())]);
    }
    this.dirty.clear();
    await state.save(TEMPLATES_STATE, entries);
  }

  get services(): number {
    return this.miners.size;
  }
}

/**
 * The bus ingest's sources publish to: log records are stamped on their way to opsight.logs,
 * everything else passes through unchanged.
 */
export function stampingBus(bus: Bus, templater: LogTemplater): Bus {
  return {
    get kind() {
      return bus.kind;
    },
    ensureTopics: (topics) => bus.ensureTopics(topics),
    partitionCount: (topic) => bus.partitionCount?.(topic),
    publish: <T>(topic: string, records: OutgoingRecord<T>[]) => {
      if (topic === TOPICS.logs) templater.stamp(records.map((r) => r.value as LogRecord));
      return bus.publish(topic, records);
    },
    subscribe: (options) => bus.subscribe(options),
    lag: (group, topic) => bus.lag(group, topic),
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
}

export interface OpenTemplater {
  /** The bus to hand to sources: stamping when templates are enabled, else the bus itself. */
  bus: Bus;
  templater?: LogTemplater;
  /** Stops the checkpoint timer and saves the miners once more. */
  close(): Promise<void>;
}

/** The templater of one ingest process: restored, checkpointed on a timer and at close. */
export async function openTemplater(
  config: TemplatesConfig,
  bus: Bus,
  options: { state?: StateStore; log?: Logger },
): Promise<OpenTemplater> {
  if (!config.enabled) return { bus, close: () => Promise.resolve() };
  const templater = new LogTemplater({ similarity: config.similarity, ...options });
  await templater.load();
  const save = () =>
    templater.checkpoint().catch((err: unknown) => {
      options.log?.warn({ err }, 'template checkpoint failed; retrying at the next one');
    });
  const timer = setInterval(() => void save(), config.checkpointSeconds * 1000);
  timer.unref();
  return {
    bus: stampingBus(bus, templater),
    templater,
    close: async () => {
      clearInterval(timer);
      await save();
    },
  };
}
