import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { isJetstreamTimeUs } from '#lib/domain';

interface SavedCursor {
  cursorUs: number;
  savedAt: string;
}

/**
 * The cursor file exists but holds no usable cursor. Ingest does not start: resuming from the live
 * stream instead would lose, unnoticed, every event since the last checkpoint.
 */
export class CursorFileError extends Error {
  override name = 'CursorFileError';
}

/**
 * The Jetstream position whose events the bus has acknowledged. Written atomically and durably
 * (temporary file, flushed to disk, then renamed over the old one, and the rename flushed too), so
 * a crash or a power cut leaves either the old or the new cursor, never half of one.
 */
export class CursorStore {
  constructor(private readonly file: string) {}

  /** The saved cursor, or undefined when there is no file; `nowUs` is the clock a saved cursor may not be ahead of. */
  async load(nowUs: number): Promise<number | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const cursorUs = savedCursorUs(text);
    if (!isJetstreamTimeUs(cursorUs, nowUs)) {
      const found = cursorUs === undefined ? 'not JSON with a cursorUs' : `cursorUs ${JSON.stringify(cursorUs).slice(0, 40)} is not a Jetstream time up to now`;
      throw new CursorFileError(
        `the ingest cursor file ${this.file} is damaged (${found}). Write {"cursorUs": <unix microseconds>} into it to resume from that time, or delete it to start from the live stream (the events since the last checkpoint are then skipped).`,
      );
    }
    return cursorUs;
  }

  async save(cursorUs: number): Promise<void> {
    const directory = path.dirname(this.file);
    await mkdir(directory, { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    const saved: SavedCursor = { cursorUs, savedAt: new Date().toISOString() };
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(JSON.stringify(saved));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
    const folder = await open(directory, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}

/** The `cursorUs` of a cursor file's text, whatever its type, or undefined when the text is not a JSON object holding one. */
function savedCursorUs(text: string): unknown {
  try {
    const saved: unknown = JSON.parse(text);
    return typeof saved === 'object' && saved !== null ? (saved as Partial<SavedCursor>).cursorUs : undefined;
  } catch {
    return undefined;
  }
}
