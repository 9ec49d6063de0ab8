import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostFetch, NetworkReader, NetworkReadError, ResponseTooLargeError, type RepoRecord } from './network.reader.js';

// A host we do not run may misbehave in ways no real PDS can be made to: it pages for ever, hands
// back the cursor it was given, answers a byte at a time, or sends megabytes. One local server
// plays the PLC directory (every DID's PDS is itself) and such a PDS, a behaviour per DID.

const CID = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm';
const POST = 'app.bsky.feed.post';
const didOf = (name: string) => `did:plc:${name.padEnd(24, 'a')}`;

type Behaviour = (response: ServerResponse, query: URLSearchParams) => void;

const page = (did: string, count: number, cursor: string | undefined, from = 0) =>
  JSON.stringify({
    records: Array.from({ length: count }, (_, i) => ({ uri: `at://${did}/${POST}/r${from + i}`, cid: CID, value: { $type: POST, text: 'hi', createdAt: new Date().toISOString() } })),
    ...(cursor !== undefined && { cursor }),
  });

describe('NetworkReader against a PDS that misbehaves', () => {
  let server: Server;
  let url: string;
  const behaviours = new Map<string, Behaviour>();
  const listings = new Map<string, number>();
  const trickles = new Set<NodeJS.Timeout>();
  /** What the PLC directory answers for a DID's audit log, and how often it was asked. */
  const auditLogs = new Map<string, { status: number; body: string }>();
  const audits = new Map<string, number>();

  const reader = (options: { requestTimeoutMs?: number; maxResponseBytes?: number; attempts?: number } = {}) =>
    new NetworkReader({ plcUrl: url, appviewUrl: url, concurrency: 4, perHostConcurrency: 4, attempts: 2, retryBaseMs: 10, allowInsecureFetch: true, ...options });
  const readAll = async (source: AsyncGenerator<RepoRecord[]>) => {
    const pages: number[] = [];
    for await (const records of source) pages.push(records.length);
    return pages;
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      const { pathname, searchParams } = new URL(request.url ?? '/', 'http://host.invalid');
      if (pathname === '/xrpc/com.atproto.repo.listRecords') {
        const did = searchParams.get('repo') ?? '';
        listings.set(did, (listings.get(did) ?? 0) + 1);
        behaviours.get(did)?.(response, searchParams);
        return;
      }
      if (pathname.endsWith('/log/audit')) {
        const did = decodeURIComponent(pathname.slice(1, -'/log/audit'.length));
        audits.set(did, (audits.get(did) ?? 0) + 1);
        const audit = auditLogs.get(did);
        if (audit) response.writeHead(audit.status, { 'content-type': 'application/json' }).end(audit.body);
        else response.writeHead(404).end();
        return;
      }
      const did = decodeURIComponent(pathname.slice(1));
      const document = { id: did, alsoKnownAs: [], verificationMethod: [], service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: url }] };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const timer of trickles) clearInterval(timer);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('stops when the PDS hands back the cursor it was given', async () => {
    const did = didOf('loop');
    behaviours.set(did, (response) => response.writeHead(200, { 'content-type': 'application/json' }).end(page(did, 1, 'again')));
    expect(await readAll(reader().listRecords(did, POST))).toEqual([1, 1]);
    expect(listings.get(did)).toBe(2);
  });

  it('ends a listing whose cursors grow without bound, keeping none of them', async () => {
    const did = didOf('hugecursor');
    behaviours.set(did, (response, params) => response.writeHead(200, { 'content-type': 'application/json' }).end(page(did, 1, `${params.get('cursor') ?? ''}${'x'.repeat(600)}`)));
    expect(await readAll(reader().listRecords(did, POST))).toEqual([1, 1]);
  });

  it('in production, sends no request to a private or loopback address, nor over plain http, whatever a DID document names', async () => {
    const requests = listings.size + audits.size;
    const production = hostFetch({ timeoutMs: 5_000, maxBytes: 1_000_000, allowInsecure: false });
    const port = new URL(url).port;
    for (const target of [`${url}/xrpc/com.atproto.repo.listRecords?repo=x`, `https://127.0.0.1:${port}/`, 'https://localhost/', 'https://10.1.2.3/', 'https://[::1]/']) {
      await expect(production(target)).rejects.toThrow();
    }
    expect(listings.size + audits.size).toBe(requests);
    // Tests on a local network may.
    expect((await hostFetch({ timeoutMs: 5_000, maxBytes: 1_000_000, allowInsecure: true })(`${url}/did:plc:local`)).status).toBe(200);
  });

  it('reads at most the records asked for, whatever the PDS sends', async () => {
    const did = didOf('endless');
    // New cursors for ever, and 100 records whatever the limit asked.
    behaviours.set(did, (response, query) => {
      const from = Number(query.get('cursor') ?? 0);
      response.writeHead(200, { 'content-type': 'application/json' }).end(page(did, 100, String(from + 100), from));
    });
    expect(await readAll(reader().listRecords(did, POST, { maxRecords: 250 }))).toEqual([100, 100, 50]);
    expect(listings.get(did)).toBe(3);
  });

  it('gives up on an answer that trickles in after the request timeout, each try', async () => {
    const did = didOf('trickle');
    behaviours.set(did, (response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"records":[');
      const timer = setInterval(() => response.write(' '), 50);
      trickles.add(timer);
      response.on('close', () => clearInterval(timer));
    });
    const started = performance.now();
    await expect(readAll(reader({ requestTimeoutMs: 300 }).listRecords(did, POST))).rejects.toThrow(NetworkReadError);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(listings.get(did)).toBe(2);
  });

  it('refuses an answer larger than the cap, without asking again', async () => {
    const did = didOf('huge');
    // Chunked, so no content-length announces it: 2 MB of records for a 1 MB cap.
    behaviours.set(did, (response) => {
      const body = page(did, 100, 'next').replace('"hi"', JSON.stringify('x'.repeat(2 * 1024 * 1024)));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(body.slice(0, 1000));
      response.end(body.slice(1000));
    });
    const error = await readAll(reader({ maxResponseBytes: 1024 * 1024 }).listRecords(did, POST)).catch((caught: unknown) => caught);
    expect((error as Error).cause).toBeInstanceOf(ResponseTooLargeError);
    expect(listings.get(did)).toBe(1);
  });
  it('reads when an account was created from its PLC audit log, and says when it cannot', async () => {
    const log = (...times: string[]) => JSON.stringify(times.map((createdAt, i) => ({ did: 'x', cid: `c${i}`, nullified: false, operation: {}, createdAt })));
    auditLogs.set(didOf('aged'), { status: 200, body: log('2023-04-01T10:00:00.000Z', '2024-01-01T00:00:00.000Z') });
    auditLogs.set(didOf('garbled'), { status: 200, body: '{"not": "a log"}' });
    auditLogs.set(didOf('down'), { status: 503, body: '' });
    auditLogs.set(didOf('refused'), { status: 400, body: '' });
    expect(await reader().createdAtOf(didOf('aged'))).toBe(Date.parse('2023-04-01T10:00:00.000Z'));
    expect(await reader().createdAtOf(didOf('unknown'))).toBeUndefined();
    expect(await reader().createdAtOf('did:web:example.com')).toBeUndefined();
    await expect(reader().createdAtOf(didOf('garbled'))).rejects.toThrow(NetworkReadError);
    // Times of the right form that no clock reads, or before 1970 (a creation time the store cannot keep, and a backfill would stop on).
    auditLogs.set(didOf('offset'), { status: 200, body: log('2023-04-01T10:00:00+99:99') });
    auditLogs.set(didOf('ancient'), { status: 200, body: log('2023-04-01T10:00:00.000Z', '0000-01-01T00:00:00.000Z') });
    await expect(reader().createdAtOf(didOf('offset'))).rejects.toThrow(NetworkReadError);
    await expect(reader().createdAtOf(didOf('ancient'))).rejects.toThrow(NetworkReadError);
    // A long log (nearly the answer's size cap, more operations than arguments fit on the stack) is read all the same.
    const operations = Array.from({ length: 220_000 }, (_, i) => ({ createdAt: new Date(Date.parse('2023-04-01T10:00:00.000Z') + i * 1000).toISOString() }));
    auditLogs.set(didOf('long'), { status: 200, body: JSON.stringify(operations) });
    expect(await reader().createdAtOf(didOf('long'))).toBe(Date.parse('2023-04-01T10:00:00.000Z'));
    // A directory that is down is asked again (four tries here: on a loaded machine one may fail
    // before it reaches the server, on a connection the server had closed); one that refuses the
    // request is not.
    await expect(reader({ attempts: 4 }).createdAtOf(didOf('down'))).rejects.toThrow(NetworkReadError);
    expect(audits.get(didOf('down'))).toBeGreaterThanOrEqual(2);
    await expect(reader().createdAtOf(didOf('refused'))).rejects.toThrow(/HTTP 400/);
    expect(audits.get(didOf('refused'))).toBe(1);
  });
});
