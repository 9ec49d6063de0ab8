import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { InvalidCurationError } from './curation.errors.js';
import { parseCuration } from './curation.loader.js';
import type { Curation } from './curation.types.js';

interface CurationSnapshot {
  curation: Curation;
  /** Hash of the file text the curation was read from. */
  version: string;
  text: string;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/**
 * The curator file as the source of truth: read, watched for changes (a curator edits it, or the
 * admin API writes it), and edited in place with comments and layout kept. A change that does not
 * validate is refused and the previous definitions stay in force.
 */
export class CurationStore {
  private current?: CurationSnapshot;
  private timer?: NodeJS.Timeout;
  private writing = Promise.resolve();

  constructor(readonly file: string) {}

  get snapshot(): CurationSnapshot | undefined {
    return this.current;
  }

  async load(): Promise<CurationSnapshot> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      throw new InvalidCurationError([
        { file: this.file, line: 0, column: 0, field: '(file)', message: `cannot be read: ${(error as Error).message}` },
      ]);
    }
    this.current = { curation: parseCuration(text, this.file), version: hash(text), text };
    return this.current;
  }

  /**
   * Reads the file again for a reader that must keep working through a curator's mistake (the
   * snapshot runs): a new valid version replaces the current one; a file that cannot be read or
   * does not validate is returned as `rejected` while the last good version stays in force. Only
   * when no version was ever good does it throw.
   */
  async refresh(): Promise<{ snapshot: CurationSnapshot; rejected?: InvalidCurationError }> {
    try {
      const text = await readFile(this.file, 'utf8').catch((error: unknown) => {
        throw new InvalidCurationError([
          { file: this.file, line: 0, column: 0, field: '(file)', message: `cannot be read: ${(error as Error).message}` },
        ]);
      });
      if (this.current && hash(text) === this.current.version) return { snapshot: this.current };
      this.current = { curation: parseCuration(text, this.file), version: hash(text), text };
      return { snapshot: this.current };
    } catch (error) {
      if (!(error instanceof InvalidCurationError) || !this.current) throw error;
      return { snapshot: this.current, rejected: error };
    }
  }

  /**
   * Checks the file every `intervalMs`; a new valid version goes to `onChange`, an invalid one to
   * `onInvalid` (once per version) while the previous definitions stay in force.
   */
  watch(intervalMs: number, onChange: (snapshot: CurationSnapshot) => void, onInvalid: (error: InvalidCurationError) => void): void {
    let rejected: string | undefined;
    const check = async () => {
      const text = await readFile(this.file, 'utf8').catch(() => undefined);
      if (text === undefined || hash(text) === this.current?.version || hash(text) === rejected) return;
      try {
        this.current = { curation: parseCuration(text, this.file), version: hash(text), text };
        rejected = undefined;
        onChange(this.current);
      } catch (error) {
        if (!(error instanceof InvalidCurationError)) throw error;
        rejected = hash(text);
        onInvalid(error);
      }
    };
    this.timer = setInterval(() => void check().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Sets (or, with `undefined`, removes) one entry, e.g. `['feeds', 'climate']`, validates the
   * whole result and writes it atomically. Edits are serialised.
   */
  async set(pathInDocument: [section: 'communities' | 'feeds' | 'funds', id: string], value: unknown): Promise<CurationSnapshot> {
    const run = this.writing.then(async () => {
      const base = this.current ?? (await this.load());
      const doc = parseDocument(base.text);
      if (doc.contents === null) doc.contents = doc.createNode({}) as never;
      if (value === undefined) doc.deleteIn(pathInDocument);
      else {
        if (!doc.hasIn([pathInDocument[0]])) doc.setIn([pathInDocument[0]], doc.createNode({}));
        doc.setIn(pathInDocument, doc.createNode(value));
      }
      const text = doc.toString();
      const curation = parseCuration(text, this.file);
      await mkdir(path.dirname(this.file), { recursive: true });
      const temporary = `${this.file}.${process.pid}.tmp`;
      await writeFile(temporary, text);
      await rename(temporary, this.file);
      this.current = { curation, version: hash(text), text };
      return this.current;
    });
    this.writing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
