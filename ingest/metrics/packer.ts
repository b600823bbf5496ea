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
  /**
   * Float64Arrays: their values live outside the JS heap, so a pack waiting in the bus for the
   * writer's batch costs the young-generation collector its few small objects, not 16 KB of
   * array elements copied at every collection it survives.
   */
  t: Float64Array;
  v: Float64Array;
  n: number;
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
    if (!g || g.n >= MAX_PACK) {
      if (g) this.out.push(packOf(g));
      g = { key: series.key, heads: [], t: new Float64Array(MAX_PACK), v: new Float64Array(MAX_PACK), n: 0 };
      this.groups.set(series.partition, g);
    }
    g.heads.push(series.head);
    g.t[g.n] = ms;
    g.v[g.n++] = value;
  }

  /** The packs, in order per partition; the packer is spent. */
  records(): OutgoingRecord<MetricSamples>[] {
    for (const g of this.groups.values()) this.out.push(packOf(g));
    this.groups.clear();
    return this.out;
  }
}

function packOf(g: Group): OutgoingRecord<MetricSamples> {
  const n = g.n;
  // A short pack keeps copies of its size, not the full-size arrays.
  const t = n === MAX_PACK ? g.t : g.t.slice(0, n);
  const v = n === MAX_PACK ? g.v : g.v.slice(0, n);
  return { key: g.key, value: packMetricSamples(g.heads, t, v), count: n };
}
