import { partitionFor } from '../../core/bus/partitioner.ts';
import type { OutgoingRecord } from '../../core/bus/types.ts';
import { packMetricSamples, type MetricHead, type MetricSamples } from '../../core/model/metric-samples.ts';

/**
 * Samples per MetricSamples message: on Kafka a pack is one JSON message (up to ~250 B a sample
 * when every sample is another series), and brokers refuse messages over 1 MB by default.
 */
export const MAX_PACK = 1000;

/** What a packer needs of a series; `partition` is cached on it for the last partition count. */
export interface PackedSeries {
  key: string;
  head: MetricHead;
  partition: number;
  partitionsOf: number;
}

interface Group {
  key: string;
  heads: MetricHead[];
  t: number[];
  v: number[];
}

/**
 * Builds a request's samples into MetricSamples messages, one per partition of the metrics topic
 * (at most MAX_PACK samples each), each keyed by one of its series so it lands where every
 * series' own key would.
 */
export class Packer {
  private readonly groups = new Map<number, Group>();
  private readonly out: OutgoingRecord<MetricSamples>[] = [];

  constructor(private readonly partitions: number) {}

  add(series: PackedSeries, ms: number, value: number): void {
    if (series.partitionsOf !== this.partitions) {
      series.partition = partitionFor(series.key, this.partitions);
      series.partitionsOf = this.partitions;
    }
    let g = this.groups.get(series.partition);
    if (!g || g.t.length >= MAX_PACK) {
      if (g) this.out.push(packOf(g));
      g = { key: series.key, heads: [], t: [], v: [] };
      this.groups.set(series.partition, g);
    }
    g.heads.push(series.head);
    g.t.push(ms);
    g.v.push(value);
  }

  /** The packs, in order per partition; the packer is spent. */
  records(): OutgoingRecord<MetricSamples>[] {
    for (const g of this.groups.values()) this.out.push(packOf(g));
    this.groups.clear();
    return this.out;
  }
}

function packOf(g: Group): OutgoingRecord<MetricSamples> {
  return { key: g.key, value: packMetricSamples(g.heads, g.t, g.v), count: g.t.length };
}
