import { basename } from 'node:path';
import type { MetricPoint } from '../../core/model/records.ts';
import { parseExposition } from '../metrics/exposition.ts';
import { familiesToPoints } from '../metrics/prom-points.ts';
import { decodeRequest } from '../otlp/codec.ts';
import { convertMetrics } from '../otlp/metrics.ts';
import type { MetricFormat } from './detect.ts';
import { otlpRequests, type BadLine, type Parsed } from './lines.ts';

/**
 * A metrics file -> MetricPoints: Prometheus text / OpenMetrics through the scrape parser and
 * its point conversion (samples without a timestamp get the file's modification time), or OTLP
 * JSON through the OTLP receiver's conversion.
 */

export interface MetricFileOptions {
  path: string;
  format: MetricFormat;
  /** service.name (and `job`) of exposition samples; default: the file's base name. */
  service?: string;
  mtimeMs: number;
}

export function parseMetricFile(text: string, o: MetricFileOptions): Parsed<MetricPoint> {
  if (o.format === 'otlp') {
    const records: MetricPoint[] = [];
    const bad: BadLine[] = [];
    let rejected = 0;
    otlpRequests(text, (json, line) => {
      try {
        const c = convertMetrics(decodeRequest('metrics', 'json', json));
        records.push(...c.items);
        rejected += c.rejected.count;
        if (c.rejected.count)
          bad.push({
            line,
            message: `${c.rejected.count} points refused: ${c.rejected.message()}`,
            text: '',
          });
      } catch (err) {
        rejected++;
        bad.push({ line, message: (err as Error).message, text: json.toString('utf8') });
      }
    });
    return { records, bad, rejected };
  }
  const job = o.service ?? basename(o.path).replace(/\.(prom|txt|metrics|om)$/i, '');
  const exp = parseExposition(text, o.format);
  const conv = familiesToPoints(exp.families, {
    scrapeTimeMs: Math.trunc(o.mtimeMs),
    resource: { 'service.name': job },
    targetLabels: { job },
    honorLabels: true,
  });
  const lines = text.split('\n');
  const bad = [...exp.errors, ...conv.errors]
    .sort((a, b) => a.line - b.line)
    .map((e) => ({ line: e.line, message: e.message, text: lines[e.line - 1] ?? '' }));
  return { records: conv.points, bad, rejected: bad.length };
}
