import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createClickHouseClient, CurationVersionRepository, type ClickHouseClient } from '#lib/clickhouse';
import { loadConfig, type AppConfig } from '#lib/config';
import { CurationStore } from '#lib/curation';
import { testAppEnv } from '#lib/testing';
import { describeCurationSource, readCurationInForce } from './curation-in-force.js';

const file = `communities:
  birders:
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
feeds:
  birds:
    displayName: Birds
    communities: [birders]
`;

describe('the curation labeler:setup and feed:publish act on', () => {
  const database = `curation_in_force_${process.pid}_${Date.now()}`;
  let client: ClickHouseClient;
  let dir: string;
  let config: AppConfig;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-curation-in-force-'));
    await writeFile(path.join(dir, 'feeds.yaml'), file);
    config = loadConfig(testAppEnv({ name: 'curation_in_force', dataDir: dir, feedsFile: path.join(dir, 'feeds.yaml') }));
    config = { ...config, clickhouse: { kind: 'embedded', path: ':memory:', database } };
    client = createClickHouseClient(config.clickhouse);
    await applyMigrations(client, database);
  });

  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is the newest stored version, with the communities and feeds added in the console that the file lacks', async () => {
    const store = new CurationStore(config.feedGenerator.feedsFile, new CurationVersionRepository(client, database));
    await store.load();
    await store.set(['communities', 'gardeners'], { members: { dids: ['did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'] } }, 'console');
    const edited = await store.set(['feeds', 'gardens'], { displayName: 'Gardens', communities: ['gardeners'] }, 'console');

    const inForce = await readCurationInForce(config);
    expect([...inForce.curation.communities.keys()]).toEqual(['birders', 'gardeners']);
    expect([...inForce.curation.feeds.keys()]).toEqual(['birds', 'gardens']);
    expect(inForce.source).toEqual({ version: edited.version });
    expect(describeCurationSource(inForce)).toBe(`The curation in force: stored version ${edited.version}.`);

    // The operator's copy of the curator file has changed since: reading the curation in force imports nothing.
    await writeFile(config.feedGenerator.feedsFile, file.replace('displayName: Birds', 'displayName: Birds, edited'));
    const again = await readCurationInForce(config);
    expect(again.source).toEqual({ version: edited.version });
    expect(await new CurationVersionRepository(client, database).latest()).toMatchObject({ version: edited.version });
    await writeFile(config.feedGenerator.feedsFile, file);
  });

  it('is the curator file when the store cannot be read, and says why', async () => {
    const unreachable: AppConfig = { ...config, clickhouse: { kind: 'server', url: 'http://127.0.0.1:9', username: 'default', password: '', database } };
    const inForce = await readCurationInForce(unreachable);
    expect([...inForce.curation.feeds.keys()]).toEqual(['birds']);
    expect(inForce.source).toMatchObject({ file: config.feedGenerator.feedsFile, storeUnreadable: expect.any(String) });
    expect(describeCurationSource(inForce)).toMatch(/^The curation store could not be read \(.+\): read the curator file .*feeds\.yaml, which lacks edits/);

    // No embedded store yet: none is made to be read.
    const none = path.join(dir, 'no-store');
    const fresh = await readCurationInForce({ ...config, clickhouse: { kind: 'embedded', path: none, database } });
    expect(fresh.source).toEqual({ file: config.feedGenerator.feedsFile, storeUnreadable: `no embedded ClickHouse at ${none}` });
  });
});
