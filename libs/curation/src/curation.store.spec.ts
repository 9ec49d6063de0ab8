import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

describe('CurationStore', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-curation-'));
    file = path.join(dir, 'feeds.yaml');
    await writeFile(file, initial);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('edits one entry, keeps the comments, and refuses an edit that does not validate', async () => {
    const store = new CurationStore(file);
    await store.load();
    await store.set(['feeds', 'birds-mixed'], { displayName: 'Birds, balanced', communities: ['birders'], ranking: 'balanced' });
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# the founder');
    expect(store.snapshot!.curation.feeds.get('birds-mixed')!.ranking).toBe('balanced');

    await expect(store.set(['feeds', 'broken'], { displayName: 'Broken', communities: ['nobody'] })).rejects.toThrow(InvalidCurationError);
    expect(await readFile(file, 'utf8')).toBe(text);
    expect(store.snapshot!.curation.feeds.has('broken')).toBe(false);

    await store.set(['feeds', 'birds-mixed'], undefined);
    expect(store.snapshot!.curation.feeds.has('birds-mixed')).toBe(false);
  });

  it('refreshes to a valid file, and keeps the last good definitions through a mistake or a missing file', async () => {
    const store = new CurationStore(file);
    await expect(new CurationStore(path.join(dir, 'missing.yaml')).refresh()).rejects.toThrow(InvalidCurationError);
    expect((await store.refresh()).snapshot.curation.feeds.has('birds')).toBe(true);

    await writeFile(file, initial.replace('communities: [birders]', 'communities: [nobody]'));
    const broken = await store.refresh();
    expect(broken.snapshot.curation.feeds.get('birds')!.communities).toEqual(['birders']);
    expect(broken.rejected?.message).toContain('feeds.birds.communities');

    await rm(file);
    expect((await store.refresh()).rejected?.message).toContain('cannot be read');

    await writeFile(file, initial.replace('displayName: Birds', 'displayName: Birds, newest'));
    const fixed = await store.refresh();
    expect(fixed.rejected).toBeUndefined();
    expect(fixed.snapshot.curation.feeds.get('birds')!.displayName).toBe('Birds, newest');
  });

  it('picks up a curator edit, and keeps the previous definitions when the edit has a mistake', async () => {
    const store = new CurationStore(file);
    await store.load();
    const changes: string[][] = [];
    const problems: string[] = [];
    store.watch(20, (snapshot) => changes.push([...snapshot.curation.feeds.keys()]), (error) => problems.push(error.message));
    try {
      await writeFile(file, initial.replace('displayName: Birds', 'displayName: Birds!'));
      await waitUntil(() => changes.length === 1);
      expect(store.snapshot!.curation.feeds.get('birds')!.displayName).toBe('Birds!');

      await writeFile(file, initial.replace('communities: [birders]', 'communities: [fishers]'));
      await waitUntil(() => problems.length === 1);
      expect(problems[0]).toMatch(/feeds\.yaml:9:\d+ feeds\.birds\.communities\.0: no community "fishers"/);
      expect(store.snapshot!.curation.feeds.get('birds')!.communities).toEqual(['birders']);
    } finally {
      store.stop();
    }
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
