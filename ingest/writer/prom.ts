import { batchRows, deadLetters, insertRetries, insertSeconds, recordsOut } from '../../core/metrics.ts';
import type { WriterEvents } from './stats.ts';

/** The writer's events on the process's /metrics instruments (core/metrics.ts). */
export function prometheusWriterEvents(): WriterEvents {
  return {
    inserted(topic, table, rows, _bytes, seconds) {
      recordsOut.inc({ topic, table }, rows);
      batchRows.observe({ table }, rows);
      insertSeconds.observe({ table }, seconds);
    },
    retry(table) {
      insertRetries.inc({ table });
    },
    deadLettered(topic, count) {
      deadLetters.inc({ topic }, count);
    },
  };
}
