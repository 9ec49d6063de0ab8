import { startJetstreamReplayServer, startTestApp, type JetstreamReplayServer, type TestApp } from '#lib/testing';

// What a feed's communities think shows in its explanations, its digest's editions and its
// conversation's report: a members-only feed keeps them for the admin, as it keeps its pages for
// its members.

const adminToken = 'members-only-reports-admin-token-0123';
const post = encodeURIComponent('at://did:plc:author000000000000000000/app.bsky.feed.post/3kpost0000001');

/** A ranked feed, a digest and a conversation over one community: `club-…` members-only, `open-…` public. */
const feeds = (prefix: string, membersOnly: boolean) => `
  ${prefix}-ranked:
    displayName: Ranked
    communities: [club]
    ranking: bridging
    membersOnly: ${membersOnly}
  ${prefix}-digest:
    displayName: Digest
    communities: [club]
    ranking: digest
    membersOnly: ${membersOnly}
    digest: { cadence: daily }
  ${prefix}-talk:
    displayName: Talk
    communities: [club]
    ranking: deliberation
    membersOnly: ${membersOnly}
    deliberation: { hashtag: ${prefix}talk }
`;

const curation = `communities:
  club:
    members:
      dids: [did:plc:alice00000000000000000000]
feeds:${feeds('club', true)}${feeds('open', false)}`;

describe('explanations, editions and conversation reports of members-only feeds', () => {
  let replay: JetstreamReplayServer;
  let running: TestApp;

  beforeAll(async () => {
    replay = await startJetstreamReplayServer({ events: [] });
    running = await startTestApp({ name: 'members_only_reports', feeds: curation, jetstreamUrl: replay.subscribeUrl, overrides: { ADMIN_TOKEN: adminToken } });
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
  });

  const routes = (prefix: string) => [
    ['an explanation', `api/feeds/${prefix}-ranked/explain?post=${post}`],
    ['the editions', `api/feeds/${prefix}-digest/editions`],
    ["the conversation's report", `api/conversations/${prefix}-talk`],
  ];
  const get = async (route: string, token?: string) => {
    const response = await fetch(`${running.url}/${route}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: response.status, body: (await response.json()) as { error?: string } };
  };

  it.each(routes('club'))('refuses %s without the admin token, or with another, and answers the admin', async (_what, route) => {
    expect(await get(route)).toEqual({ status: 401, body: { error: 'AuthRequired', message: expect.stringContaining('members-only') } });
    expect(await get(route, 'not-the-admin-token-0123456789')).toMatchObject({ status: 401, body: { error: 'AuthRequired' } });
    expect((await get(route, adminToken)).status).toBe(200);
  });

  it.each(routes('open'))('answers %s of a public feed to anyone', async (_what, route) => {
    expect((await get(route)).status).toBe(200);
  });

  it.each([
    ['an explanation', `api/feeds/nope-ranked/explain?post=${post}`, 'no feed named "nope-ranked"'],
    ['the editions', 'api/feeds/nope-digest/editions', 'no feed named "nope-digest"'],
    ["the conversation's report", 'api/conversations/nope-talk', 'no conversation named "nope-talk"'],
    ["the report of a feed that is not a conversation", 'api/conversations/open-ranked', 'no conversation named "open-ranked"'],
  ])('answers 404 NotFound for %s of a feed nobody defined', async (_what, route, message) => {
    expect(await get(route)).toEqual({ status: 404, body: { error: 'NotFound', message } });
  });
});
