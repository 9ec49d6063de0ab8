import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isNode, parseDocument, visit, type Document } from 'yaml';
import type { CurationSource, CurationVersion, CurationVersionRepository } from '#lib/clickhouse';
import { asInvalidCuration, CurationEntryNotFoundError, InvalidCurationError } from './curation.errors.js';
import { parseCuration } from './curation.loader.js';
import type { Curation } from './curation.types.js';

export interface CurationSnapshot {
  curation: Curation;
  /** The stored version in force (see `curation_versions`). */
  version: number;
  /** SHA-256 of the text, 16 hex digits. */
  hash: string;
  source: CurationSource;
  /** The curator document as written, comments and layout kept. */
  text: string;
}

/** What looking at the newest stored version found. */
export interface CurationRefresh {
  snapshot: CurationSnapshot;
  /** A newer version was taken. */
  changed: boolean;
  /** The newest version did not validate here: the last good one stays in force. */
  rejected?: InvalidCurationError;
}

/** What looking at the curator file found. */
export interface CurationFileImport {
  /** The file's text differs from the last look (the first look counts as a change). */
  changed: boolean;
  /** The file's text became a new version. */
  imported?: CurationSnapshot;
  /** The file does not validate (or cannot be read): nothing was written. */
  rejected?: InvalidCurationError;
}

export const curationHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** How problems in a stored version are named: a version is no longer a file on this machine. */
const STORED = 'curation';

const unreadable = (file: string, error: unknown) =>
  new InvalidCurationError([{ file, line: 0, column: 0, field: '(file)', message: `cannot be read: ${(error as Error).message}` }]);

/**
 * Replaces each alias outside the entry at `path` that names an anchor inside it (`b: {members:
 * *core}` after `a: {members: &core …}`) by a copy of what it names, so that replacing or removing
 * the entry leaves every other entry meaning what it did.
 *
 * @NOTE A curator who edits `a` expects `b` to stay as it is; refusing the edit instead would send
 * them to the file, whose import would replace every edit made since. The copy is written out in
 * full (comments inside the anchored node are not copied); the rest of the document is untouched.
 */
function expandAliasesInto(doc: Document, path: readonly string[]): void {
  const entry = doc.getIn(path, true);
  if (!isNode(entry)) return;
  const inside = new Set<unknown>([entry]);
  visit(entry, (_key, node) => void inside.add(node));
  visit(doc, {
    Alias: (_key, alias) => {
      if (inside.has(alias)) return undefined;
      const named = alias.resolve(doc);
      return named && inside.has(named) ? doc.createNode(named.toJS(doc), { aliasDuplicateObjects: false }) : undefined;
    },
  });
}

/**
 * The curation, versioned in ClickHouse: the store every role and replica shares. The curator file
 * is its seed: a file whose text was never imported becomes a new version (on first start, and
 * whenever a curator changes it). Edits (admin API, console) write a new version, never the file,
 * with comments and layout kept. A version that does not validate is refused at write; a reader
 * that meets one anyway keeps the last good version.
 */
export class CurationStore {
  private current?: CurationSnapshot;
  /** The file text last looked at, so an unchanged (or already refused) file costs one read. */
  private fileHashSeen?: string;
  private writing = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly versions: CurationVersionRepository,
  ) {}

  get snapshot(): CurationSnapshot | undefined {
    return this.current;
  }

  /**
   * Start-up: imports the curator file when its text is new, then takes the newest version. Throws
   * `InvalidCurationError` only when no good version exists (an empty store and a bad file).
   */
  async load(): Promise<{ snapshot: CurationSnapshot; rejected?: InvalidCurationError }> {
    const file = await this.importFile();
    const stored = await this.versions.latest();
    if (!stored && file.rejected) throw file.rejected;
    const { snapshot, rejected } = await this.refresh();
    return { snapshot, rejected: file.rejected ?? rejected };
  }

  /**
   * Takes the newest stored version when it is newer than the one in force: later by number, or by
   * hash at the same number, as the store orders them. Two replicas writing in the same microsecond
   * number their versions alike, and every replica then takes the same one of the two.
   */
  async refresh(): Promise<CurationRefresh> {
    const stored = await this.versions.latest();
    if (!stored) throw new InvalidCurationError([{ file: STORED, line: 0, column: 0, field: '(document)', message: 'no version stored yet' }]);
    if (this.current && !isNewer(stored, this.current)) return { snapshot: this.current, changed: false };
    try {
      return { snapshot: this.take(stored, parseCuration(stored.yaml, STORED)), changed: true };
    } catch (error) {
      if (!(error instanceof InvalidCurationError) || !this.current) throw error;
      return { snapshot: this.current, changed: false, rejected: error };
    }
  }

  /**
   * Looks at the curator file: a text not looked at before that validates, and that is not the
   * newest file import already (another replica got there first, or an earlier start), becomes a
   * new version. Problems name the file's own lines.
   */
  async importFile(): Promise<CurationFileImport> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      const changed = this.fileHashSeen !== undefined;
      this.fileHashSeen = undefined;
      return { changed, rejected: unreadable(this.file, error) };
    }
    const hash = curationHash(text);
    if (hash === this.fileHashSeen) return { changed: false };
    this.fileHashSeen = hash;
    let curation: Curation;
    try {
      curation = parseCuration(text, this.file);
    } catch (error) {
      return { changed: true, rejected: asInvalidCuration(error, this.file) };
    }
    if ((await this.versions.latest('file'))?.hash === hash) return { changed: true };
    return { changed: true, imported: await this.write(async () => ({ text, curation }), 'file') };
  }

  /**
   * Sets (or, with `undefined`, removes) one entry, e.g. `['feeds', 'climate']`, on the newest
   * version; validates the whole result and writes it as a new version. Edits are serialised.
   * Removing an entry the newest version does not have writes nothing (`CurationEntryNotFoundError`).
   */
  async set(pathInDocument: [section: 'communities' | 'feeds' | 'funds', id: string], value: unknown, source: CurationSource): Promise<CurationSnapshot> {
    return this.write(async () => {
      const base = (await this.refresh()).snapshot;
      let text: string;
      try {
        const doc = parseDocument(base.text);
        if (doc.contents === null) doc.contents = doc.createNode({}) as never;
        if (value === undefined && !doc.hasIn(pathInDocument)) throw new CurationEntryNotFoundError(pathInDocument.join('.'));
        expandAliasesInto(doc, pathInDocument);
        if (value === undefined) doc.deleteIn(pathInDocument);
        else {
          if (!doc.hasIn([pathInDocument[0]])) doc.setIn([pathInDocument[0]], doc.createNode({}));
          doc.setIn(pathInDocument, doc.createNode(value));
        }
        text = doc.toString();
      } catch (error) {
        if (error instanceof CurationEntryNotFoundError) throw error;
        throw asInvalidCuration(error, STORED, pathInDocument.join('.'));
      }
      return { text, curation: parseCuration(text, STORED) };
    }, source);
  }

  /** Versions newest first, without their text. */
  history(limit: number): Promise<Omit<CurationVersion, 'yaml'>[]> {
    return this.versions.history(limit);
  }

  /** Validates (in `build`, which throws `InvalidCurationError`) and appends, one write at a time. */
  private write(build: () => Promise<{ text: string; curation: Curation }>, source: CurationSource): Promise<CurationSnapshot> {
    const run = this.writing.then(async () => {
      const { text, curation } = await build();
      const stored = await this.versions.append(text, curationHash(text), source);
      return this.take(stored, curation);
    });
    this.writing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private take(stored: CurationVersion, curation: Curation): CurationSnapshot {
    const snapshot = { curation, version: stored.version, hash: stored.hash, source: stored.source, text: stored.yaml };
    if (!this.current || isNewer(snapshot, this.current)) this.current = snapshot;
    return snapshot;
  }
}

/** Whether version `a` comes after `b` in the store's order: by number, then by hash. */
function isNewer(a: { version: number; hash: string }, b: { version: number; hash: string }): boolean {
  return a.version > b.version || (a.version === b.version && a.hash > b.hash);
}
