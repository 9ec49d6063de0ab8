import { jest } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createClickHouseClient, CurationVersionRepository, type ClickHouseClient } from '#lib/clickhouse';
import { InvalidCurationError } from './curation.errors.js';
import { CurationStore } from './curation.store.js';

const initial = `# curated by hand
communities:
  birders:
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa] # the founder
feeds:
  birds:
    displayName: Birds
    communities: [birders]
`;

describe('CurationStore: versions in ClickHouse, the curator file as their seed', () => {
  const database = `curation_store_${process.pid}_${Date.now()}`;
  let client: ClickHouseClient;
  let dir: string;
  let file: string;
  let test = 0;
  /** A database of its own per test, so each starts with no version stored. */
  let versions: CurationVersionRepository;

  beforeAll(() => {
    client = createClickHouseClient({ kind: 'embedded', path: ':memory:', database });
  });
  afterAll(() => client.close());
  beforeEach(async () => {
    test += 1;
    await applyMigrations(client, `${database}_${test}`);
    versions = new CurationVersionRepository(client, `${database}_${test}`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-curation-'));
    file = path.join(dir, 'feeds.yaml');
    await writeFile(file, initial);
  });
  afterEach(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}_${test}` });
    await rm(dir, { recursive: true, force: true });
  });

  it('imports the file on first start, once, and edits write new versions with the comments kept, never the file', async () => {
    const store = new CurationStore(file, versions);
    const { snapshot } = await store.load();
    expect(snapshot).toMatchObject({ source: 'file', text: initial });
    // A second process (or a restart) finds the file's text imported already.
    await new CurationStore(file, versions).load();
    expect(await versions.history(10)).toHaveLength(1);

    await store.set(['feeds', 'birds-mixed'], { displayName: 'Birds, balanced', communities: ['birders'], ranking: 'balanced' }, 'admin');
    expect(store.snapshot!.curation.feeds.get('birds-mixed')!.ranking).toBe('balanced');
    expect(store.snapshot!.text).toContain('# the founder');
    expect(await readFile(file, 'utf8')).toBe(initial);

    await expect(store.set(['feeds', 'broken'], { displayName: 'Broken', communities: ['nobody'] }, 'admin')).rejects.toThrow(InvalidCurationError);
    expect(store.snapshot!.curation.feeds.has('broken')).toBe(false);

    await store.set(['feeds', 'birds-mixed'], undefined, 'console');
    expect(store.snapshot!.curation.feeds.has('birds-mixed')).toBe(false);
    expect((await versions.history(10)).map((version) => version.source)).toEqual(['console', 'admin', 'file']);

    // Another process takes the newest version, the edits included, without the file changing.
    const other = new CurationStore(file, versions);
    expect((await other.load()).snapshot.version).toBe(store.snapshot!.version);
    const restarted = new CurationStore(file, versions);
    await restarted.load();
    await store.set(['feeds', 'birds-again'], { displayName: 'Birds again', communities: ['birders'] }, 'admin');
    expect((await restarted.refresh()).changed).toBe(true);
    expect(restarted.snapshot!.curation.feeds.has('birds-again')).toBe(true);
  });

  it('brings every replica to the same version when two write in the same microsecond', async () => {
    const a = new CurationStore(file, versions);
    const b = new CurationStore(file, versions);
    await a.load();
    await b.load();
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 60_000);
    try {
      await Promise.all([
        a.set(['feeds', 'from-a'], { displayName: 'From A', communities: ['birders'] }, 'admin'),
        b.set(['feeds', 'from-b'], { displayName: 'From B', communities: ['birders'] }, 'admin'),
      ]);
    } finally {
      now.mockRestore();
    }
    const [newest, second] = await versions.history(2);
    expect(newest!.version).toBe(second!.version);
    await a.refresh();
    await b.refresh();
    // The one the store orders first (by version, then hash) is in force everywhere, and later edits build on it.
    expect(a.snapshot!.hash).toBe(newest!.hash);
    expect(b.snapshot!.hash).toBe(newest!.hash);
    const kept = [...a.snapshot!.curation.feeds.keys()];
    await a.set(['feeds', 'later'], { displayName: 'Later', communities: ['birders'] }, 'admin');
    await b.refresh();
    expect([...b.snapshot!.curation.feeds.keys()].sort()).toEqual([...kept, 'later'].sort());
  });

  it('imports a changed file as a new version, and refuses one with a mistake, keeping the last good version', async () => {
    const store = new CurationStore(file, versions);
    await store.load();
    expect(await store.importFile()).toEqual({ changed: false });

    await writeFile(file, initial.replace('communities: [birders]', 'communities: [nobody]'));
    const broken = await store.importFile();
    expect(broken.rejected?.message).toMatch(/feeds\.yaml:9:\d+ feeds\.birds\.communities\.0: no community "nobody"/);
    expect(await store.importFile()).toEqual({ changed: false });
    expect(store.snapshot!.curation.feeds.get('birds')!.communities).toEqual(['birders']);
    expect(await versions.history(10)).toHaveLength(1);

    await rm(file);
    expect((await store.importFile()).rejected?.message).toContain('cannot be read');

    await writeFile(file, initial.replace('displayName: Birds', 'displayName: Birds, newest'));
    const fixed = await store.importFile();
    expect(fixed.imported?.source).toBe('file');
    expect(store.snapshot!.curation.feeds.get('birds')!.displayName).toBe('Birds, newest');
    expect(await versions.history(10)).toHaveLength(2);
  });

  it('starts from the stored versions when the file has a mistake, and refuses to start with neither', async () => {
    await writeFile(file, 'feeds: { birds: { displayName: Birds, communities: [nobody] } }\n');
    await expect(new CurationStore(file, versions).load()).rejects.toThrow(InvalidCurationError);

    await writeFile(file, initial);
    await new CurationStore(file, versions).load();
    await writeFile(file, 'feeds: { birds: { displayName: Birds, communities: [nobody] } }\n');
    const started = await new CurationStore(file, versions).load();
    expect(started.rejected?.message).toContain('feeds.birds.communities.0');
    expect(started.snapshot.curation.feeds.get('birds')!.communities).toEqual(['birders']);
  });

  it('refuses a file or an edit whose check fails unexpectedly like any mistake: at first start, in the file, and in an edit', async () => {
    // A feed over `constructor` (inherited by every object, never defined here) once crashed the check.
    const inherited = initial.replace('communities: [birders]', 'communities: [constructor]\n    membersOnly: true');
    await writeFile(file, inherited);
    await expect(new CurationStore(file, versions).load()).rejects.toThrow(InvalidCurationError);

    await writeFile(file, initial);
    const store = new CurationStore(file, versions);
    await store.load();
    await writeFile(file, inherited);
    expect((await store.importFile()).rejected).toBeInstanceOf(InvalidCurationError);
    // Aliases that expand past the YAML parser's limit: refused, and reported again on the next look.
    await writeFile(file, `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(10).fill('*a').join(', ')}]\nc: [${Array(10).fill('*b').join(', ')}]\n`);
    expect((await store.importFile()).rejected?.message).toContain('(document): could not be checked: Excessive alias count');
    expect(await store.importFile()).toEqual({ changed: false });
    await expect(store.set(['feeds', 'birds'], { displayName: 'Birds', communities: ['constructor'], membersOnly: true }, 'admin')).rejects.toThrow(
      'feeds.birds.communities.0: no community "constructor" is defined',
    );
  });

  it('edits an entry whose anchor other entries use, and those entries keep what they had', async () => {
    const aliased = `communities:
  birders:
    members: &core # shared
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
  watchers:
    members: *core
  ringers:
    members: *core
feeds:
  birds:
    displayName: Birds # kept
    communities: [watchers, ringers]
`;
    await writeFile(file, aliased);
    const store = new CurationStore(file, versions);
    await store.load();

    const dids = ['did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'];
    await store.set(['communities', 'birders'], { members: { dids } }, 'admin');
    const { communities } = store.snapshot!.curation;
    expect(communities.get('birders')!.members.dids).toEqual(dids);
    expect(communities.get('watchers')!.members.dids).toEqual(['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa']);
    expect(communities.get('ringers')!.members.dids).toEqual(['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa']);
    expect(store.snapshot!.text).toContain('displayName: Birds # kept');

    await store.set(['communities', 'birders'], undefined, 'console');
    expect([...store.snapshot!.curation.communities.keys()]).toEqual(['watchers', 'ringers']);
    expect(store.snapshot!.curation.communities.get('ringers')!.members.dids).toEqual(['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa']);
  });
});
