import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EMPTY } from 'rxjs';
import { CurationVersionRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { InvalidCurationError } from '#lib/curation';
import type { ControlPlane } from './control-plane.js';
import { CurationService } from './curation.service.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';

const initial = `communities:
  birders:
    members:
      dids: [did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]
feeds:
  birds:
    displayName: Birds
    communities: [birders]
`;

describe('CurationService: every replica applies the newest stored version', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  let dir: string;
  let versions: CurationVersionRepository;

  beforeAll(async () => {
    store = await openEmbeddedStore('curation_service');
    ({ client, database } = store);
    versions = new CurationVersionRepository(client, database);
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-curation-service-'));
    await writeFile(path.join(dir, 'feeds.yaml'), initial);
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A replica whose announcements reach no one: the others learn of its versions only by reading the store. */
  const replica = async () => {
    const config = { feedGenerator: { feedsFile: path.join(dir, 'feeds.yaml') }, curation: { pollSeconds: 60 } } as AppConfig;
    const controlPlane = { client: { emit: () => EMPTY, close: async () => undefined } } as unknown as ControlPlane;
    const service = new CurationService(config, versions, controlPlane, createLogger({ logLevel: 'silent', role: 'all' }), new Metrics({ processMetrics: false }));
    await service.onModuleInit();
    return service;
  };

  it('applies the version a refused edit read, and still takes later announcements', async () => {
    const here = await replica();
    const elsewhere = await replica();
    const added = await elsewhere.edit(['feeds', 'birds-too'], { displayName: 'Birds too', communities: ['birders'] }, 'admin');

    // The edit here reads the other replica's version, then fails validation: a 400 for the curator,
    // and this replica serves the newest definitions all the same.
    const generation = here.generation;
    await expect(here.edit(['feeds', 'broken'], { displayName: 'Broken', communities: ['nobody'] }, 'admin')).rejects.toThrow(InvalidCurationError);
    expect(here.current.feeds.has('birds-too')).toBe(true);
    expect(here.generation).toBe(generation + 1);
    await here.announced({ v: 1, version: added.version, hash: added.hash, source: added.source });
    expect(here.generation).toBe(generation + 1);

    const renamed = await elsewhere.edit(['feeds', 'birds-too'], { displayName: 'Birds, again', communities: ['birders'] }, 'admin');
    await here.announced({ v: 1, version: renamed.version, hash: renamed.hash, source: renamed.source });
    expect(here.current.feeds.get('birds-too')!.displayName).toBe('Birds, again');
  });
});
