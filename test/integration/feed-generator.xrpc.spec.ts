import { AtpAgent, XRPCError, lexicons } from '@atproto/api';
import { EventRepository } from '#lib/clickhouse';
import { startTestApp, type TestApp } from '#lib/testing';
import type { PipelineEventV1 } from '#lib/contracts';

const publisher = 'did:plc:publisher0000000000000000';
const member = (i: number) => `did:plc:member${String(i).padStart(18, '0')}`;
const outsider = 'did:plc:outsider00000000000000000';
const feedUri = `at://${publisher}/app.bsky.feed.generator/members-new`;

const curation = `
communities:
  members:
    members:
      dids: [${[0, 1, 2].map(member).join(', ')}]
feeds:
  members-new:
    displayName: Members, newest
    communities: [members]
    ranking: recent
`;

function post(did: string, index: number, timeUs: number): PipelineEventV1 {
  return {
    v: 1, type: 'post', op: 'create', did, rkey: `3kpost${String(index).padStart(7, '0')}`, cid: `bafyreipost${String(index).padStart(8, '0')}`,
    timeUs, createdAtMs: timeUs / 1000, text: `post ${index}`, langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
  };
}

describe('feed generator XRPC surface (embedded ClickHouse, @atproto/api client)', () => {
  let running: TestApp;
  let agent: AtpAgent;
  const now = Date.now() * 1000;
  const memberPosts = 130;

  beforeAll(async () => {
    running = await startTestApp({
      name: 'xrpc',
      feeds: curation,
      overrides: { FEEDGEN_HOSTNAME: 'feeds.example.com', FEEDGEN_PUBLISHER_DID: publisher, FEEDGEN_PRIVACY_POLICY_URL: 'https://feeds.example.com/privacy' },
      configure: (config) => ({ ...config, role: 'feed-generator' }),
    });
    agent = new AtpAgent({ service: running.url });
    const events: PipelineEventV1[] = [];
    for (let i = 0; i < memberPosts; i += 1) events.push(post(member(i % 3), i, now - (memberPosts - i) * 1_000_000));
    for (let i = 0; i < 20; i += 1) events.push(post(outsider, 1000 + i, now - i));
    // Two posts at the same instant: the cursor must still tell them apart.
    events.push(post(member(0), 5000, now - 500), post(member(1), 5001, now - 500));
    await running.app.get(EventRepository).write(events);
  });

  afterAll(async () => {
    await running?.close();
  });

  it('pages through every member post exactly once, newest first, and never an outsider', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri, limit: 50, cursor });
      lexicons.assertValidXrpcOutput('app.bsky.feed.getFeedSkeleton', data);
      seen.push(...data.feed.map((item) => item.post));
      if (!data.cursor || data.feed.length === 0) break;
      expect(data.cursor).not.toBe(cursor);
      cursor = data.cursor;
    }
    expect(seen).toHaveLength(memberPosts + 2);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.some((uri) => uri.includes(outsider))).toBe(false);
    expect(seen[seen.length - 1]).toContain('3kpost0000000');
  });

  it('defaults to 50 items', async () => {
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri });
    expect(data.feed).toHaveLength(50);
  });

  it.each([
    [{ limit: 0 }, 'InvalidRequest'],
    [{ limit: 101 }, 'InvalidRequest'],
    [{ limit: 'abc' }, 'InvalidRequest'],
    [{ cursor: 'not-our-cursor' }, 'InvalidRequest'],
    [{ cursor: '1763000000000' }, 'InvalidRequest'],
    [{ feed: `at://did:plc:someoneelse00000000000000/app.bsky.feed.generator/members-new` }, 'UnknownFeed'],
    [{ feed: `at://${publisher}/app.bsky.feed.generator/nope` }, 'UnknownFeed'],
    [{ feed: 'not a uri' }, 'UnknownFeed'],
  ])('answers bad parameters %j with an XRPC 400 %s and keeps serving', async (params, errorName) => {
    const url = new URL(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton`);
    for (const [key, value] of Object.entries({ feed: feedUri, ...params })) url.searchParams.set(key, String(value));
    const response = await fetch(url);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: errorName, message: expect.any(String) });
    const { data } = await agent.app.bsky.feed.getFeedSkeleton({ feed: feedUri, limit: 1 });
    expect(data.feed).toHaveLength(1);
  });

  it('reports UnknownFeed through the @atproto/api client as an XRPC error', async () => {
    const failure = await agent.app.bsky.feed
      .getFeedSkeleton({ feed: `at://${publisher}/app.bsky.feed.generator/nope` })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(XRPCError);
    expect(failure).toMatchObject({ status: 400, error: 'UnknownFeed' });
  });

  it('describes the generator, with the privacy policy its operator set, and serves its did:web document', async () => {
    const { data } = await agent.app.bsky.feed.describeFeedGenerator();
    lexicons.assertValidXrpcOutput('app.bsky.feed.describeFeedGenerator', data);
    expect(data).toEqual({ did: 'did:web:feeds.example.com', feeds: [{ uri: feedUri }], links: { privacyPolicy: 'https://feeds.example.com/privacy' } });
    const did = await (await fetch(`${running.url}/.well-known/did.json`)).json();
    expect(did).toEqual({
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: 'did:web:feeds.example.com',
      service: [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: 'https://feeds.example.com' }],
    });
  });

  it('answers an unknown XRPC method as not implemented', async () => {
    const response = await fetch(`${running.url}/xrpc/app.bsky.feed.nothingHere`);
    expect(response.status).toBe(501);
    expect(((await response.json()) as { error: string }).error).toBe('MethodNotImplemented');
  });

  it('answers a path that cannot be decoded, and a body too large, with the XRPC error body and the names XRPC clients know', async () => {
    const undecodable = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton%ff?feed=x`);
    expect(undecodable.status).toBe(400);
    expect(await undecodable.json()).toEqual({ error: 'InvalidRequest', message: expect.any(String) });
    const huge = await fetch(`${running.url}/xrpc/app.bsky.feed.sendInteractions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ interactions: [], padding: 'x'.repeat(2 * 1_048_576) }),
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ error: 'PayloadTooLarge', message: expect.any(String) });
  });

  it('answers a method we serve, asked with the wrong HTTP verb, as the XRPC server does: 400 Incorrect HTTP method', async () => {
    const query = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri)}`, { method: 'POST', body: '{}' });
    expect(query.status).toBe(400);
    expect(await query.json()).toEqual({ error: 'InvalidRequest', message: 'Incorrect HTTP method (POST) expected GET' });
    const procedure = await fetch(`${running.url}/xrpc/app.bsky.feed.sendInteractions`);
    expect(procedure.status).toBe(400);
    expect(await procedure.json()).toEqual({ error: 'InvalidRequest', message: 'Incorrect HTTP method (GET) expected POST' });
  });
});
