import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';

/**
 * A line kept verbatim: read from JSONL when it is not valid JSON, or written/sent as-is (to produce
 * malformed frames on purpose). `timeUs` optionally places it on a replay timeline.
 */
export class RawLine {
  constructor(
    readonly text: string,
    readonly timeUs?: number,
  ) {
    if (text.includes('\n')) throw new JsonlError('a raw JSONL line cannot contain a newline');
  }
}

class JsonlError extends Error {
  override name = 'JsonlError';
}

/** Streams the non-empty lines of a JSONL file without loading it whole. */
async function* readJsonlLines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() !== '') yield line;
    }
  } finally {
    // Also when the caller stops early: release the file descriptor now, not at garbage collection.
    lines.close();
    input.destroy();
  }
}

/** Streams parsed JSONL values; a line that is not valid JSON comes back as a `RawLine`. */
export async function* readJsonl(path: string): AsyncGenerator<unknown> {
  for await (const line of readJsonlLines(path)) yield parseJsonlLine(line);
}
function parseJsonlLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return new RawLine(line);
  }
}

export function toJsonlLine(value: unknown): string {
  if (value instanceof RawLine) return value.text;
  const line = JSON.stringify(value);
  if (line === undefined) throw new JsonlError('value has no JSON representation');
  return line;
}

/**
 * Writes values as JSONL (`RawLine`s verbatim), streaming with backpressure so that hundreds of
 * thousands of events never sit in memory twice.
 */
export async function writeJsonl(
  path: string,
  values: Iterable<unknown> | AsyncIterable<unknown>,
): Promise<{ lines: number; bytes: number }> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  let lines = 0;
  let bytes = 0;
  // @NOTE Lines are batched into ~64 KiB writes: one write per line costs more than serialising.
  let batch = '';
  const flush = async (): Promise<void> => {
    if (batch === '') return;
    const chunk = batch;
    batch = '';
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    for await (const value of values) {
      const line = toJsonlLine(value) + '\n';
      batch += line;
      bytes += Buffer.byteLength(line);
      lines += 1;
      if (batch.length >= 65_536) await flush();
    }
    await flush();
  } finally {
    out.end();
    await finished(out);
  }
  return { lines, bytes };
}
