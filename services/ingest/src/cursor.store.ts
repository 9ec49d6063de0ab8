import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

interface SavedCursor {
  cursorUs: number;
  savedAt: string;
}

/**
 * The Jetstream position whose events the bus has acknowledged. Written atomically (temporary
 * file, then rename), so a crash leaves either the old or the new cursor, never half of one.
 */
export class CursorStore {
  constructor(private readonly file: string) {}

  async load(): Promise<number | undefined> {
    try {
      const saved = JSON.parse(await readFile(this.file, 'utf8')) as Partial<SavedCursor>;
      return typeof saved.cursorUs === 'number' && Number.isSafeInteger(saved.cursorUs) ? saved.cursorUs : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async save(cursorUs: number): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    const saved: SavedCursor = { cursorUs, savedAt: new Date().toISOString() };
    await writeFile(temporary, JSON.stringify(saved));
    await rename(temporary, this.file);
  }
}
