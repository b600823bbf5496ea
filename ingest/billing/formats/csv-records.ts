import { isCsvError, readCsv, type CsvItem } from '../csv.ts';
import { FocusFileError } from '../focus.ts';
import { openBillingFile } from '../open-file.ts';
import type { RecordFile, RecordItem } from './records.ts';
import type { NativeRecord } from './types.ts';

/** A CSV export (gzip or not) as records keyed by its header: the native formats' CSV container. */
export async function openCsvRecords(path: string, file: string): Promise<RecordFile> {
  const input = await openBillingFile(path);
  const chunks = readCsv(input);
  let header: string[] | undefined;
  let pending: CsvItem[] = [];
  try {
    while (!header) {
      const next = await chunks.next();
      if (next.done) break;
      const items = next.value;
      const at = items.findIndex((i) => !isCsvError(i));
      if (at < 0) continue;
      header = (items[at] as { fields: string[] }).fields.map((h) => h.trim());
      pending = [...items.slice(0, at), ...items.slice(at + 1)];
    }
  } catch (err) {
    input.destroy();
    throw err;
  }
  if (!header) {
    input.destroy();
    throw new FocusFileError(`${file}: empty file, no header`);
  }
  const names = header;
  const convert = (items: CsvItem[]): RecordItem[] =>
    items.map((item) => {
      if (isCsvError(item)) return { line: item.line, error: `malformed CSV: ${item.reason}`, raw: [] };
      if (item.fields.length !== names.length)
        return {
          line: item.line,
          error: `${item.fields.length} fields, the header has ${names.length}`,
          raw: item.fields,
        };
      const record: NativeRecord = {};
      for (let i = 0; i < names.length; i++) record[names[i]!] = item.fields[i]!;
      return { line: item.line, record };
    });
  return {
    columns: names,
    async *batches() {
      try {
        if (pending.length) yield convert(pending);
        for await (const items of chunks) yield convert(items);
      } finally {
        input.destroy();
      }
    },
    close: async () => void input.destroy(),
  };
}
