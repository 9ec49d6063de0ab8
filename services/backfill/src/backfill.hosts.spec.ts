import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PipelineEventV1 } from '#lib/contracts';
import type { Curation } from '#lib/curation';
import { NetworkReader } from '#lib/network';
import { BackfillProgress, createLogger } from '#lib/platform';
import { ACCOUNTS_PER_REQUEST, BackfillRunner } from './backfill.runner.js';
import type { BackfillCheckpoint } from './backfill.writer.js';

// A run over the real network reader, with two PDSes on this machine: one answers each request
// after a wait, the other at once. The store is kept in memory.

const SLOW_MS = 300;
const CONCURRENCY = 4;
const slow = Array.from({ length: 6 }, (_, i) => `did:plc:slow${String(i).padStart(20, '0')}`);
const fast = Array.from({ length: 4 }, (_, i) => `did:plc:fast${String(i).padStart(20, '0')}`);

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('a backfill over PDSes of different speeds', () => {
  const servers: Server[] = [];
  let plcUrl: string;
  /** When each account's last request (its visibility declaration, after its history) was answered, since the run began. */
  const doneAt = new Map<string, number>();
  let started = 0;

  beforeAll(async () => {
    // An empty repository on each PDS: every listing is one page, every record absent.
    const pds = (waitMs: number) =>
      createServer((request, response) => {
        const url = new URL(request.url ?? '/', 'http://pds.invalid');
        const last = url.pathname.endsWith('getRecord');
        const empty = last ? { status: 400, body: { error: 'RecordNotFound', message: 'not found' } } : { status: 200, body: { records: [] } };
        setTimeout(() => {
          if (last) doneAt.set(url.searchParams.get('repo') ?? '', performance.now() - started);
          response.writeHead(empty.status, { 'content-type': 'application/json' }).end(JSON.stringify(empty.body));
        }, waitMs);
      });
    const [slowPds, fastPds] = [pds(SLOW_MS), pds(0)];
    servers.push(slowPds, fastPds);
    const [slowUrl, fastUrl] = [await listen(slowPds), await listen(fastPds)];
    const plc = createServer((request, response) => {
      const did = decodeURIComponent((request.url ?? '/').slice(1));
      if (did.endsWith('/log/audit')) return void response.writeHead(404).end();
      const serviceEndpoint = did.startsWith('did:plc:slow') ? slowUrl : fastUrl;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: did, service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint }] }));
    });
    servers.push(plc);
    plcUrl = await listen(plc);
  });

  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads the members of a fast PDS while those of a slow one wait their turn', async () => {
    const reader = new NetworkReader({ plcUrl, appviewUrl: plcUrl, concurrency: CONCURRENCY, perHostConcurrency: 2, attempts: 1, retryBaseMs: 10, allowInsecureFetch: true });
    started = performance.now();
    const members = [...slow, ...fast];
    const curation: Curation = {
      communities: new Map([['c', { id: 'c', name: 'c', description: '', allowSelfEnrolment: false, members: { dids: members, handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [] } }]]),
      feeds: new Map([['f', { shortname: 'f', displayName: 'f', description: '', communities: ['c'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours: 1, halfLifeHours: 24, balance: 'equal' }]]),
      funds: new Map(),
    };
    await new BackfillRunner({
      reader,
      events: { write: async (_events: readonly PipelineEventV1[]) => undefined },
      checkpoints: { covered: async () => new Set<string>(), markDone: async (_done: readonly BackfillCheckpoint[]) => undefined },
      accounts: { recordCreatedAt: async () => undefined, createdAt: async () => new Map() },
      communities: { members: async () => members },
      handles: { resolve: async () => [] },
      progress: new BackfillProgress(),
      log: createLogger({ logLevel: 'silent', role: 'all' }),
      concurrency: CONCURRENCY * ACCOUNTS_PER_REQUEST,
      followersCap: 10,
    }).run(curation);
    // Each slow member takes 4 requests of 300 ms, two at a time on its host: 3.6 s for the six.
    const fastDone = Math.max(...fast.map((did) => doneAt.get(did)!));
    const slowDone = Math.max(...slow.map((did) => doneAt.get(did)!));
    expect(slowDone).toBeGreaterThan(3 * SLOW_MS * 2);
    // The fast PDS's members are not held behind them (with as many accounts under way as requests, they finished with the slow ones, 2.6 s in).
    expect(fastDone).toBeLessThan(slowDone / 3);
  }, 30_000);
});
