import type { PipelineEventV1 } from '#lib/contracts';
import { openEmbeddedStore, type EmbeddedStore } from '#lib/testing';
import { CommunityRepository } from './community.repository.js';
import { EventRepository } from './event.repository.js';
import { PostRepository } from './post.repository.js';
import { ScoreRepository } from './score.repository.js';

const HOUR_US = 3_600_000_000;
const uri = (did: string) => `at://${did}/app.bsky.feed.post/3kpost`;

const post = (did: string, timeUs: number): PipelineEventV1 =>
  ({ v: 1, type: 'post', op: 'create', did, rkey: '3kpost', cid: `bafy${did.slice(-6)}`, timeUs, createdAtMs: timeUs / 1000, text: '', langs: [], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false });
const like = (did: string, rkey: string, subject: string, timeUs: number): PipelineEventV1 =>
  ({ v: 1, type: 'like', op: 'create', did, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: timeUs / 1000, subjectUri: subject, subjectCid: 'bafysubject' });
const account = (did: string, active: boolean, timeUs: number): PipelineEventV1 =>
  ({ v: 1, type: 'account', did, timeUs, active, status: active ? null : 'deactivated' });
const visibility = (did: string, hide: boolean, timeUs: number): PipelineEventV1 =>
  ({ v: 1, type: 'visibility', op: 'update', did, rkey: 'self', timeUs, hideFromAlgorithms: hide });

describe("an account's status in the reads of posts by authors", () => {
  let store: EmbeddedStore;
  let events: EventRepository;
  let scores: ScoreRepository;
  let posts: PostRepository;
  const nowUs = Date.now() * 1000;
  const sinceUs = nowUs - 72 * HOUR_US;
  const t = sinceUs + HOUR_US;

  // A member and an author from outside whose post a member liked, for each status.
  const member = { inactive: 'did:plc:memberinactive', hidden: 'did:plc:memberhidden', plain: 'did:plc:memberplain' };
  const outsider = { inactive: 'did:plc:outsiderinactive', hidden: 'did:plc:outsiderhidden', plain: 'did:plc:outsiderplain' };
  const members = Object.values(member);
  // Past 2,000 DIDs, the members reach ClickHouse as a stored set instead of a parameter.
  const longList = [...members, ...Array.from({ length: 2_000 }, (_, i) => `did:plc:quiet${i}`)];

  beforeAll(async () => {
    store = await openEmbeddedStore('account_status');
    events = new EventRepository(store.client, store.database);
    scores = new ScoreRepository(store.client, store.database);
    posts = new PostRepository(store.client, store.database);
    // Each status change stays in a part of its own: the newest version must win over an older one read beside it.
    await store.client.command({ query: `SYSTEM STOP MERGES ${store.database}.accounts` });
    await store.client.command({ query: `SYSTEM STOP MERGES ${store.database}.visibility` });
    await events.write([...members, ...Object.values(outsider)].map((did, i) => post(did, t + i)));
    await events.write(Object.values(outsider).map((did, i) => like(member.plain, `3klike${i}`, uri(did), t + 100 + i)));
    await events.write([account(member.inactive, true, t), account(outsider.inactive, true, t)]);
    await events.write([account(member.inactive, false, t + 200), account(outsider.inactive, false, t + 200)]);
    await events.write([visibility(member.hidden, true, t + 200), visibility(outsider.hidden, true, t + 200)]);
  });
  afterAll(() => store?.close());

  const candidates = async (authors: string[]) =>
    (await scores.candidates({ authors, sinceUs, includeReplies: true })).map((candidate) => candidate.uri).sort();
  const timeline = async (authors: string[]) => {
    const read: string[] = [];
    await posts.readTimeline({ authors, limit: 100, includeReplies: true, sinceUs }, (prefix, rkey) => read.push(`${prefix}/${rkey}`));
    return read.sort();
  };
  const recent = async (authors: string[]) => (await posts.recentByAuthors({ authors, limit: 100, includeReplies: true })).map((p) => p.uri).sort();

  it.each([
    ['a short list of members', members],
    ['a long list of members', longList],
  ])("leaves out inactive and hidden authors, members or not, from the candidates, and inactive ones from the timelines, for %s", async (_, authors) => {
    expect(await candidates(authors)).toEqual([uri(member.plain), uri(outsider.plain)].sort());
    // A recent feed is no recommendation: an account hidden from algorithms keeps its place there.
    const kept = [uri(member.hidden), uri(member.plain)].sort();
    expect(await timeline(authors)).toEqual(kept);
    expect(await recent(authors)).toEqual(kept);
  });

  const membersOf = async () => (await new CommunityRepository(store.client, store.database).members({ dids: members, lists: [], hashtags: [], followersOf: [], starterPacks: [], exclude: [] }, sinceUs)).sort();

  it('counts no inactive account among a community\'s members (hidden from algorithms is no matter there)', async () => {
    expect(await membersOf()).toEqual([member.hidden, member.plain].sort());
  });

  it('takes back an account reactivated or no longer hidden, by its newest version', async () => {
    await events.write([account(member.inactive, true, t + 300), account(outsider.inactive, true, t + 300)]);
    expect(await membersOf()).toEqual([...members].sort());
    await events.write([visibility(member.hidden, false, t + 300), visibility(outsider.hidden, false, t + 300)]);
    const everyone = [...members, ...Object.values(outsider)].map(uri).sort();
    expect(await candidates(members)).toEqual(everyone);
    expect(await candidates(longList)).toEqual(everyone);
    const allMembers = members.map(uri).sort();
    expect(await timeline(longList)).toEqual(allMembers);
    expect(await recent(longList)).toEqual(allMembers);
  });
});
