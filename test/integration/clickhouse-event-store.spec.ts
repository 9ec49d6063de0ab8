import { TID } from '@atproto/common';
import { conversationVoteContext, VOTE_CONTEXT } from '#lib/bridging';
import type { MessageBus, PipelineEventV1 } from '#lib/contracts';
import { applyMigrations, CommunityRepository, ConversationRepository, createClickHouseClient, EventRepository, FeedbackRepository, FundRepository, MAX_STATEMENTS, migrations, NoteRepository, PostRepository, RemovalRepository, ScoreRepository } from '#lib/clickhouse';
import type { ClickHouseClient } from '#lib/clickhouse';
import { capturedLogger, startChdbHttpServer, type ChdbHttpServer } from '#lib/testing';
import type { AppConfig } from '#lib/config';
import { BusStartup } from '#lib/platform';
import { RemovedContent } from '../../services/feed-generator/src/feeds/removed-content.js';
import { ViewerFeedbackStore } from '../../services/feed-generator/src/feeds/viewer-feedback.store.js';
import { ServablePosts } from '../../services/feed-generator/src/feeds/servable-posts.js';
import type { FeedRegistry } from '../../services/feed-generator/src/feeds/feed.registry.js';

const alice = 'did:plc:alice00000000000000000000';
const bob = 'did:plc:bob0000000000000000000000';
// A day ago, in whole seconds: the network's events expire from the store after 45 days.
const t0 = Math.floor(Date.now() / 1000 - 86_400) * 1_000_000;

const post = (did: string, rkey: string, timeUs: number, extra: Partial<PipelineEventV1> = {}): PipelineEventV1 => ({
  v: 1,
  type: 'post',
  op: 'create',
  did,
  rkey,
  cid: `bafy${rkey}`,
  timeUs,
  createdAtMs: timeUs / 1000,
  text: 'hello',
  langs: ['en'],
  tags: [],
  replyRoot: null,
  replyParent: null,
  quote: null,
  hasMedia: false,
  ...extra,
} as PipelineEventV1);

// The same repositories over both connections: chDB in-process, and ClickHouse's HTTP interface.
describe.each(['embedded', 'server'] as const)('ClickHouse event store (%s connection)', (kind) => {
  let client: ClickHouseClient;
  let server: ChdbHttpServer | undefined;
  const database = `test_events_${kind}_${process.pid}`;
  let events: EventRepository;
  let posts: PostRepository;

  beforeAll(async () => {
    if (kind === 'embedded') {
      client = createClickHouseClient({ kind, path: ':memory:', database });
    } else {
      server = await startChdbHttpServer({ path: ':memory:' });
      client = createClickHouseClient({ kind, url: server.url, username: 'default', password: '', database });
    }
    expect(await applyMigrations(client, database)).toEqual(migrations.map((migration) => migration.version));
    events = new EventRepository(client, database);
    posts = new PostRepository(client, database);
  });
  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await client.close();
    await server?.close();
  });

  it('applies each migration once', async () => {
    expect(await applyMigrations(client, database)).toEqual([]);
  });

  it('counts a re-delivered batch once and applies deletes', async () => {
    const batch: PipelineEventV1[] = [
      post(alice, '3k0000000001', t0),
      post(alice, '3k0000000002', t0 + 1),
      post(bob, '3k0000000003', t0 + 2, { replyParent: `at://${alice}/app.bsky.feed.post/3k0000000001`, replyRoot: `at://${alice}/app.bsky.feed.post/3k0000000001` }),
      { v: 1, type: 'like', op: 'create', did: bob, rkey: '3k00000000l1', cid: 'bafylike', timeUs: t0 + 3, createdAtMs: 0, subjectUri: `at://${alice}/app.bsky.feed.post/3k0000000001`, subjectCid: 'bafy3k0000000001' },
      { v: 1, type: 'follow', op: 'create', did: bob, rkey: '3k00000000f1', timeUs: t0 + 4, createdAtMs: 0, subjectDid: alice },
    ];
    await events.write(batch);
    await events.write(batch);
    expect(await events.counts()).toEqual({ events: 5, posts: 3, interactions: 2, graph: 1 });

    await events.write([
      { v: 1, type: 'like', op: 'delete', did: bob, rkey: '3k00000000l1', timeUs: t0 + 10 },
      { v: 1, type: 'post', op: 'delete', did: alice, rkey: '3k0000000002', timeUs: t0 + 11 },
    ]);
    expect(await events.counts()).toEqual({ events: 7, posts: 2, interactions: 1, graph: 1 });
  });

  it('expires viewer feedback after 14 days, like impressions, and keeps the network approvals and a conversation\'s votes', async () => {
    const dave = 'did:plc:dave00000000000000000000';
    const day = 86_400_000_000;
    const nowUs = Date.now() * 1000;
    const item = (n: number) => `at://${alice}/app.bsky.feed.post/3k000000000${n}`;
    const feedback = (event: 'requestLess' | 'requestMore' | 'interactionSeen', n: number, timeUs: number) =>
      ({ v: 1, type: 'feedback', viewer: dave, feed: null, item: item(n), event, feedContext: null, reqId: null, timeUs }) as const;
    // Disagree (requestLess) and pass (interactionSeen) are a deliberation feed's votes, read for up to 31 days.
    await new FeedbackRepository(client, database).write([feedback('requestMore', 1, nowUs - 20 * day), feedback('requestLess', 2, nowUs - 20 * day), feedback('interactionSeen', 3, nowUs - 20 * day)]);
    await events.write([
      { v: 1, type: 'like', op: 'create', did: dave, rkey: '3k00000000l9', cid: 'bafylike9', timeUs: nowUs - 20 * day, createdAtMs: 0, subjectUri: item(1), subjectCid: 'bafy3k0000000001' },
    ]);
    // TTLs apply when parts merge; a forced merge applies them now.
    await client.command({ query: `OPTIMIZE TABLE ${database}.interactions FINAL` });
    const result = await client.query({ query: `SELECT kind FROM ${database}.interactions WHERE actor = '${dave}' ORDER BY kind`, format: 'JSONEachRow' });
    expect((await result.json<{ kind: string }>()).map((row) => row.kind)).toEqual(['interactionSeen', 'like', 'requestLess']);
    expect([...(await new ConversationRepository(client, database).votedBy('talk', dave, [item(1), item(2), item(3)]))].sort()).toEqual([item(1), item(2), item(3)]);
  });

  it("counts a disagree or pass as a conversation's vote only when it came from that conversation, keeps it when the statement is seen elsewhere later, and keeps it out of the viewer's other feeds", async () => {
    const frank = 'did:plc:frank00000000000000000000';
    const nowUs = Date.now() * 1000;
    const statement = (n: number) => `at://did:plc:speaker${n}000000000000000000/app.bsky.feed.post/3k00000000s${n}`;
    const elsewhere = '{"v":1,"b":["club"],"d":[]}';
    const feedback = (event: 'requestLess' | 'interactionSeen', n: number, feedContext: string | null, later = 0) =>
      ({ v: 1, type: 'feedback', viewer: frank, feed: null, item: statement(n), event, feedContext, reqId: null, timeUs: nowUs - 1_000_000 + n + later }) as const;
    const talk = conversationVoteContext('talk');
    await new FeedbackRepository(client, database).write([
      // Served for voting, handed back without a context, and served by another of our feeds.
      feedback('interactionSeen', 1, talk),
      feedback('interactionSeen', 2, null),
      feedback('interactionSeen', 3, elsewhere),
      feedback('requestLess', 4, talk),
      feedback('requestLess', 5, null),
      feedback('requestLess', 6, elsewhere),
      // Another conversation's vote, and one with the context every conversation shared before.
      feedback('requestLess', 7, conversationVoteContext('other-talk')),
      feedback('interactionSeen', 8, VOTE_CONTEXT),
    ]);
    const conversations = new ConversationRepository(client, database);
    const statements = [1, 2, 3, 4, 5, 6, 7, 8].map(statement);
    expect([...(await conversations.votedBy('talk', frank, statements))].sort()).toEqual([1, 2, 4, 5, 8].map(statement).sort());
    expect([...(await conversations.votedBy('other-talk', frank, statements))].sort()).toEqual([2, 5, 7, 8].map(statement).sort());
    // The disagree with the fourth statement is no "show less" of it, nor of its author, in the viewer's other feeds.
    const viewerFeedback = { cacheViewers: 10, cacheBytes: 1_000_000, ttlSeconds: 60 };
    const config = { feedGenerator: { viewerFeedback } } as AppConfig;
    const { logger } = capturedLogger();
    const store = new ViewerFeedbackStore(config, {} as MessageBus, new FeedbackRepository(client, database), logger, new BusStartup(config, logger));
    const { lessPosts, lessAuthors } = await store.feedbackOf(frank);
    expect([...lessPosts.keys()].sort()).toEqual([5, 6].map(statement).sort());
    expect(lessAuthors.has('did:plc:speaker4000000000000000000')).toBe(false);

    // The statements voted on turn up in another of our feeds later: the votes stay.
    await new FeedbackRepository(client, database).write([feedback('interactionSeen', 1, elsewhere, 1_000), feedback('requestLess', 4, elsewhere, 1_000)]);
    expect([...(await conversations.votedBy('talk', frank, statements))].sort()).toEqual([1, 2, 4, 5, 8].map(statement).sort());
  });

  it("reads one viewer's own feedback and impressions, each post at its earliest time, with a requestMore's feedContext", async () => {
    const erin = 'did:plc:erin000000000000000000000';
    const nowUs = Date.now() * 1000;
    const item = (n: number) => `at://${bob}/app.bsky.feed.post/3k00000000${n}`;
    const feedback = (viewer: string, event: 'requestLess' | 'requestMore' | 'interactionLike' | 'impression', n: number, timeUs: number, feedContext: string | null = null) =>
      ({ v: 1, type: 'feedback', viewer, feed: null, item: item(n), event, feedContext, reqId: null, timeUs }) as const;
    const repository = new FeedbackRepository(client, database);
    await repository.write([
      feedback(erin, 'requestLess', 10, nowUs - 3_000_000),
      feedback(erin, 'requestMore', 11, nowUs - 2_000_000, '{"v":1,"b":["club"],"d":[]}'),
      feedback(erin, 'interactionLike', 12, nowUs - 2_000_000),
      feedback(erin, 'impression', 13, nowUs - 5_000_000),
      feedback(alice, 'requestLess', 14, nowUs - 1_000_000),
    ]);
    await repository.write([feedback(erin, 'impression', 13, nowUs - 1_000_000)]);
    expect(await repository.viewerHistory(erin, nowUs - 60_000_000, 100)).toEqual({
      signals: [
        { kind: 'requestMore', post: item(11), timeUs: nowUs - 2_000_000, feedContext: '{"v":1,"b":["club"],"d":[]}' },
        { kind: 'requestLess', post: item(10), timeUs: nowUs - 3_000_000, feedContext: '' },
      ],
      impressions: [{ post: item(13), timeUs: nowUs - 5_000_000 }],
    });
    // Several viewers in one read: each gets their own rows, a viewer without any an empty history.
    const together = await repository.viewerHistories([erin, alice, 'did:plc:nobody000000000000000'], nowUs - 60_000_000, 100);
    expect(together.get(erin)?.signals.map((signal) => signal.post)).toEqual([item(11), item(10)]);
    expect(together.get(alice)).toEqual({ signals: [{ kind: 'requestLess', post: item(14), timeUs: nowUs - 1_000_000, feedContext: '' }], impressions: [] });
    expect(together.get('did:plc:nobody000000000000000')).toEqual({ signals: [], impressions: [] });

    // A client reports every post it shows as seen: many seen after a requestLess do not push it out.
    const seen = Array.from({ length: 150 }, (_, n) => ({ ...feedback(erin, 'requestLess', 100 + n, nowUs - 500_000 + n), event: 'interactionSeen' as const }));
    await repository.write(seen);
    const flooded = await repository.viewerHistory(erin, nowUs - 60_000_000, 100);
    expect(flooded.signals.filter((signal) => signal.kind === 'interactionSeen')).toHaveLength(100);
    expect(flooded.signals.filter((signal) => signal.kind !== 'interactionSeen').map((signal) => signal.post)).toEqual([item(11), item(10)]);
  });

  it('pages recent posts of given authors newest first, hiding deactivated accounts, whose texts the public pages no longer show', async () => {
    const page1 = await posts.recentByAuthors({ authors: [alice, bob], limit: 1, includeReplies: true });
    expect(page1.map((p) => p.uri)).toEqual([`at://${bob}/app.bsky.feed.post/3k0000000003`]);
    const page2 = await posts.recentByAuthors({ authors: [alice, bob], limit: 5, includeReplies: true, before: page1[0] });
    expect(page2.map((p) => p.uri)).toEqual([`at://${alice}/app.bsky.feed.post/3k0000000001`]);
    expect(await posts.recentByAuthors({ authors: [alice, bob], limit: 5, includeReplies: false })).toHaveLength(1);

    const shown = [`at://${alice}/app.bsky.feed.post/3k0000000001`, `at://${bob}/app.bsky.feed.post/3k0000000003`];
    expect([...(await posts.summaries(shown)).keys()].sort()).toEqual(shown);
    await events.write([{ v: 1, type: 'account', did: alice, timeUs: t0 + 20, active: false, status: 'takendown' }]);
    expect((await posts.recentByAuthors({ authors: [alice, bob], limit: 5, includeReplies: true })).map((p) => p.uri)).toEqual([
      `at://${bob}/app.bsky.feed.post/3k0000000003`,
    ]);
    // A digest's past edition or a conversation's report names the post still; its text is gone with the account.
    expect([...(await posts.summaries(shown)).keys()]).toEqual([shown[1]]);
    await events.write([{ v: 1, type: 'account', did: alice, timeUs: t0 + 30, active: true, status: '' }]);
    expect([...(await posts.summaries(shown)).keys()].sort()).toEqual(shown);
    await events.write([{ v: 1, type: 'account', did: alice, timeUs: t0 + 40, active: false, status: 'takendown' }]);
  });

  it("reads the rankings' signals, a conversation's votes and the notes' ratings without those of an account deactivated or taken down, and with them again once it is back", async () => {
    const [author, fan, spammer] = ['did:plc:signalauthor00000000000', 'did:plc:signalfan000000000000000', 'did:plc:signalspam00000000000000'];
    const t = t0 + 2_000_000_000;
    const subjectUri = `at://${author}/app.bsky.feed.post/3ksig00000001`;
    const like = (did: string, rkey: string, timeUs: number): PipelineEventV1 => ({
      v: 1, type: 'like', op: 'create', did, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: 0, subjectUri, subjectCid: 'bafy3ksig00000001',
    });
    const noteUri = `at://${author}/org.opencommunitynotes.label/3ksignote0001`;
    const rating = (did: string, rkey: string, timeUs: number): PipelineEventV1 => ({
      v: 1, type: 'rating', op: 'create', did, rkey, timeUs, createdAtMs: 0, subjectUri: noteUri, subjectCid: 'bafynote', helpfulness: 'helpful',
    });
    await events.write([
      post(author, '3ksig00000001', t, { tags: ['signalhall'] }),
      like(fan, '3ksiglike0001', t + 1), like(spammer, '3ksiglike0002', t + 2),
      rating(fan, '3ksigrate0001', t + 3), rating(spammer, '3ksigrate0002', t + 4),
    ]);
    const scores = new ScoreRepository(client, database);
    const conversations = new ConversationRepository(client, database);
    const notes = new NoteRepository(client, database);
    const counted = async () => ({
      signals: (await scores.signals({ authors: [author], sinceUs: t - 1, includeReplies: true, actors: [fan, spammer] })).map((signal) => signal.actor),
      votes: (await conversations.votes('signalhall', { hashtag: 'signalhall' }, t - 1)).map((vote) => vote.actor),
      ratings: (await notes.ratings([noteUri])).map((row) => row.rater),
    });
    const everyone = { signals: [fan, spammer], votes: [fan, spammer], ratings: [fan, spammer].sort() };
    expect(await counted()).toEqual(everyone);
    await events.write([{ v: 1, type: 'account', did: spammer, timeUs: t + 10, active: false, status: 'takendown' }]);
    expect(await counted()).toEqual({ signals: [fan], votes: [fan], ratings: [fan] });
    await events.write([{ v: 1, type: 'account', did: spammer, timeUs: t + 20, active: true, status: '' }]);
    expect(await counted()).toEqual(everyone);
  });

  it("erases what a deleted account wrote (posts, notes, ratings, requests, follows, lists, its handle) and keeps a deactivated one's to show again", async () => {
    const [gone, away, host] = ['did:plc:goneaccount00000000000000', 'did:plc:awayaccount00000000000000', 'did:plc:erasurehost0000000000000'];
    const t = t0 + 3_000_000_000;
    const awayPost = `at://${away}/app.bsky.feed.post/3kaway0000001`;
    const goneList = `at://${gone}/app.bsky.graph.list/3kgonelist001`;
    const noteUri = `at://${away}/org.opencommunitynotes.label/3kawaynote001`;
    const record = { op: 'create', timeUs: t + 2, createdAtMs: 0 } as const;
    const written: PipelineEventV1[] = [
      post(gone, '3kgone0000001', t, { text: 'gone for good' }),
      post(gone, '3kgone0000002', t + 1, { text: 'gone too' }),
      { v: 1, type: 'note', ...record, did: gone, rkey: '3kgonenote001', cid: 'bafygonenote', subjectUri: awayPost, subjectCid: '', reason: 'factual_error', text: 'a note the account wrote' },
      { v: 1, type: 'rating', ...record, did: gone, rkey: '3kgonerate001', subjectUri: noteUri, subjectCid: 'bafynote', helpfulness: 'helpful' },
      { v: 1, type: 'noterequest', ...record, did: gone, rkey: '3kgoneaskn001', subjectUri: awayPost },
      { v: 1, type: 'follow', ...record, did: gone, rkey: '3kgonefollow1', subjectDid: away },
      { v: 1, type: 'block', ...record, did: gone, rkey: '3kgoneblock01', subjectDid: alice },
      { v: 1, type: 'listitem', ...record, did: gone, rkey: '3kgoneitem001', list: goneList, subjectDid: away },
      { v: 1, type: 'like', ...record, did: gone, rkey: '3kgonelike001', cid: 'bafygonelike', subjectUri: awayPost, subjectCid: 'bafyaway' },
      { v: 1, type: 'repost', ...record, did: gone, rkey: '3kgonerepost1', cid: 'bafygonerepost', subjectUri: awayPost, subjectCid: 'bafyaway' },
      { v: 1, type: 'identity', did: gone, timeUs: t + 2, handle: 'gone.example.com' },
      post(away, '3kaway0000001', t + 3, { text: 'back soon' }),
      { v: 1, type: 'follow', ...record, did: away, rkey: '3kawayfollow1', subjectDid: host },
      { v: 1, type: 'like', ...record, did: away, rkey: '3kawaylike001', cid: 'bafyawaylike', subjectUri: `at://${alice}/app.bsky.feed.post/3k0000000001`, subjectCid: 'bafy' },
    ];
    await events.write(written);
    await new FeedbackRepository(client, database).write([
      { v: 1, type: 'feedback', viewer: gone, feed: null, item: awayPost, event: 'requestMore', feedContext: null, reqId: null, timeUs: t + 4 },
    ]);
    const followersOf = { dids: [], lists: [goneList], starterPacks: [], hashtags: [], followersOf: [away, host], exclude: [] };
    const communities = new CommunityRepository(client, database);
    expect(await communities.members(followersOf, t0)).toEqual([away, gone].sort());
    await events.write([
      { v: 1, type: 'account', did: gone, timeUs: t + 10, active: false, status: 'deleted' },
      { v: 1, type: 'account', did: away, timeUs: t + 11, active: false, status: 'deactivated' },
    ]);
    // Ingest's rewind after a restart hands the account's records over again, after its deletion.
    await events.write(written);
    const rows = async (did: string, live: boolean) => {
      const result = await client.query({
        query: `SELECT 'posts' AS t, rkey FROM ${database}.posts FINAL WHERE did = {did:String} AND deleted = {deleted:UInt8}
          UNION ALL SELECT 'notes', rkey FROM ${database}.notes FINAL WHERE did = {did:String} AND deleted = {deleted:UInt8}
          UNION ALL SELECT 'note_ratings', rkey FROM ${database}.note_ratings FINAL WHERE did = {did:String} AND deleted = {deleted:UInt8}
          UNION ALL SELECT 'note_requests', rkey FROM ${database}.note_requests FINAL WHERE did = {did:String} AND deleted = {deleted:UInt8}
          UNION ALL SELECT concat('graph ', kind), rkey FROM ${database}.graph FINAL WHERE did = {did:String} AND deleted = {deleted:UInt8}
          UNION ALL SELECT concat('interactions ', kind), rkey FROM ${database}.interactions FINAL WHERE actor = {did:String} AND deleted = {deleted:UInt8}
          UNION ALL SELECT 'identities', handle FROM ${database}.identities FINAL WHERE did = {did:String} AND (handle = '') = {deleted:UInt8}`,
        query_params: { did, deleted: live ? 0 : 1 },
        format: 'JSONCompactEachRow',
      });
      return (await result.json<[string, string]>()).map(([table, key]) => `${table} ${key}`).sort();
    };
    // Its likes, reposts and feedback no longer count (the test above) and expire after 45 days.
    expect(await rows(gone, true)).toEqual(['interactions like 3kgonelike001', 'interactions repost 3kgonerepost1', `interactions requestMore ${awayPost}`]);
    // Every other record it wrote is there, erased.
    expect(await rows(gone, false)).toEqual([
      'graph block 3kgoneblock01', 'graph follow 3kgonefollow1', 'graph listitem 3kgoneitem001', 'identities ',
      'note_ratings 3kgonerate001', 'note_requests 3kgoneaskn001', 'notes 3kgonenote001', 'posts 3kgone0000001', 'posts 3kgone0000002',
    ].sort());
    // Its follows and its list no longer make anyone a member; the deactivated account is no member while away.
    expect(await communities.members(followersOf, t0)).toEqual([]);
    expect((await new NoteRepository(client, database).notes()).filter((note) => note.author === gone)).toEqual([]);
    await events.write([{ v: 1, type: 'account', did: away, timeUs: t + 20, active: true, status: '' }]);
    // Back, its follow makes it a member again.
    expect(await communities.members(followersOf, t0)).toEqual([away]);
    expect(await rows(away, true)).toEqual(['graph follow 3kawayfollow1', 'interactions like 3kawaylike001', 'posts 3kaway0000001']);
    expect([...(await posts.summaries([awayPost])).values()].map((summary) => summary.text)).toEqual(['back soon']);
    // Once the parts merge, its text and the subjects of its records are off the disk.
    for (const table of ['posts', 'notes', 'note_ratings', 'note_requests', 'graph', 'identities']) {
      await client.command({ query: `OPTIMIZE TABLE ${database}.${table} FINAL` });
    }
    const kept = await client.query({
      query: `SELECT text FROM ${database}.posts WHERE did = {did:String} UNION ALL SELECT text FROM ${database}.notes WHERE did = {did:String}
        UNION ALL SELECT note_uri FROM ${database}.note_ratings WHERE did = {did:String} UNION ALL SELECT subject_uri FROM ${database}.note_requests WHERE did = {did:String}
        UNION ALL SELECT concat(subject_did, list) FROM ${database}.graph WHERE did = {did:String}
        UNION ALL SELECT handle FROM ${database}.identities WHERE did = {did:String}`,
      query_params: { did: gone },
      format: 'JSONCompactEachRow',
    });
    expect((await kept.json<[string]>()).map(([value]) => value).filter((value) => value !== '')).toEqual([]);
  });

  it('hands the serving replicas every one of 12,000 posts deleted in one write, whose removals share their arrival', async () => {
    const author = 'did:plc:burstdeleter000000000000';
    const t = t0 + 4_000_000_000;
    const rkey = (n: number) => `3kburst${String(n).padStart(6, '0')}`;
    await events.write(Array.from({ length: 12_000 }, (_, n) => post(author, rkey(n), t + n)));
    await events.write(Array.from({ length: 12_000 }, (_, n): PipelineEventV1 => ({ v: 1, type: 'post', op: 'delete', did: author, rkey: rkey(n), timeUs: t + 20_000 + n })));
    const { logger } = capturedLogger();
    const removed = new RemovedContent(new RemovalRepository(client, database), logger, { feedGenerator: { removalsPollMs: 250 } } as AppConfig);
    await removed.poll();
    const uri = (n: number) => `at://${author}/app.bsky.feed.post/${rkey(n)}`;
    expect(Array.from({ length: 12_000 }, (_, n) => n).filter((n) => !removed.removes(uri(n)))).toEqual([]);
  });

  it('pages through deletions, edits and posts at the same instant without losing or repeating one', async () => {
    const carol = 'did:plc:carol000000000000000000';
    const t = t0 + 500_000_000;
    const rkey = (n: number) => `3kc${String(n).padStart(10, '0')}`;
    const uri = (n: number) => `at://${carol}/app.bsky.feed.post/${rkey(n)}`;
    // 40 posts, one microsecond apart, and posts 40–44 all at the same instant as post 39.
    const written = Array.from({ length: 45 }, (_, n) => post(carol, rkey(n), t + Math.min(n, 39)));
    await events.write(written);
    // 12 in a row deleted (more than the slack of one read), one edited later (it moves to the top),
    // and a re-delivered batch.
    await events.write([
      ...Array.from({ length: 12 }, (_, i): PipelineEventV1 => ({ v: 1, type: 'post', op: 'delete', did: carol, rkey: rkey(20 + i), timeUs: t + 100 + i })),
      post(carol, rkey(5), t + 200, { op: 'update', cid: 'bafyedited' }),
    ]);
    await events.write(written.slice(0, 10));

    const expected = [5, ...[44, 43, 42, 41, 40, 39].sort((a, b) => (rkey(a) < rkey(b) ? 1 : -1))];
    // Same time: (time, cid) order, and the cids are `bafy<rkey>`.
    for (let n = 38; n >= 0; n -= 1) if (n !== 5 && (n < 20 || n > 31)) expected.push(n);
    const pages: string[][] = [];
    let before: { timeUs: number; cid: string } | undefined;
    for (;;) {
      const page = await posts.recentByAuthors({ authors: [carol], limit: 4, includeReplies: true, ...(before && { before }) });
      if (page.length === 0) break;
      pages.push(page.map((p) => p.uri));
      before = page[page.length - 1];
    }
    expect(pages.flat()).toEqual(expected.map(uri));
    expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);
    const edited = await posts.recentByAuthors({ authors: [carol], limit: 1, includeReplies: true });
    expect(edited).toEqual([{ uri: uri(5), cid: 'bafyedited', timeUs: t + 200 }]);
  });

  it('resolves a community from every member source, live, minus exclusions', async () => {
    const curator = 'did:plc:curator00000000000000000';
    const member = (n: number) => `did:plc:member${String(n).padStart(18, '0')}`;
    const list = `at://${curator}/app.bsky.graph.list/3klist0000001`;
    const packList = `at://${curator}/app.bsky.graph.list/3klist0000002`;
    const t = t0 + 1_000_000;
    const listItem = (rkey: string, subjectDid: string, onList: string): PipelineEventV1 => ({
      v: 1, type: 'listitem', op: 'create', did: curator, rkey, timeUs: t, createdAtMs: 0, list: onList, subjectDid,
    });
    await events.write([
      listItem('3kitem0000001', member(1), list),
      listItem('3kitem0000002', member(2), packList),
      { v: 1, type: 'starterpack', op: 'create', did: curator, rkey: '3kpack0000001', timeUs: t, createdAtMs: 0, list: packList },
      { v: 1, type: 'identity', did: member(3), timeUs: t, handle: 'three.example.com' },
      post(member(4), '3kpost0000004', t, { tags: ['birds'] }),
      { v: 1, type: 'follow', op: 'create', did: member(5), rkey: '3kfollow00005', timeUs: t, createdAtMs: 0, subjectDid: curator },
      { v: 1, type: 'follow', op: 'create', did: member(6), rkey: '3kfollow00006', timeUs: t, createdAtMs: 0, subjectDid: curator },
    ]);
    const communities = new CommunityRepository(client, database);
    const sources = {
      dids: [member(0)],
      // A handle claimed in an identity event decides nothing: handles count only once verified.
      handles: ['three.example.com'],
      lists: [list],
      starterPacks: [`at://${curator}/app.bsky.graph.starterpack/3kpack0000001`],
      hashtags: ['birds'],
      followersOf: [curator],
      exclude: [member(6)],
    };
    expect(await communities.members(sources, t0)).toEqual([0, 1, 2, 4, 5].map(member));

    await events.write([{ v: 1, type: 'listitem', op: 'delete', did: curator, rkey: '3kitem0000002', timeUs: t + 1 }]);
    expect(await communities.members(sources, t0)).toEqual([0, 1, 4, 5].map(member));
  });

  it("counts a list's members only from list items in the list owner's repo, starter packs' too", async () => {
    const curator = 'did:plc:listowner000000000000000';
    const intruder = 'did:plc:intruder0000000000000000';
    const friend = 'did:plc:friendofintruder00000000';
    const member = 'did:plc:listmember00000000000000';
    const packMember = 'did:plc:packmember00000000000000';
    const list = `at://${curator}/app.bsky.graph.list/3kownedlist01`;
    const packList = `at://${curator}/app.bsky.graph.list/3kownedlist02`;
    const t = t0 + 2_000_000;
    const listItem = (did: string, rkey: string, subjectDid: string, onList: string): PipelineEventV1 => ({
      v: 1, type: 'listitem', op: 'create', did, rkey, timeUs: t, createdAtMs: 0, list: onList, subjectDid,
    });
    await events.write([
      listItem(curator, '3kowned000001', member, list),
      listItem(curator, '3kowned000002', packMember, packList),
      { v: 1, type: 'starterpack', op: 'create', did: curator, rkey: '3kownedpack01', timeUs: t, createdAtMs: 0, list: packList },
      // Anyone can write a list item naming someone else's list into their own repo: noise.
      listItem(intruder, '3kforeign0001', intruder, list),
      listItem(intruder, '3kforeign0002', friend, packList),
    ]);
    const communities = new CommunityRepository(client, database);
    const none = { dids: [], handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [] };
    expect(await communities.members({ ...none, lists: [list] }, t0)).toEqual([member]);
    expect(await communities.members({ ...none, starterPacks: [`at://${curator}/app.bsky.graph.starterpack/3kownedpack01`] }, t0)).toEqual([packMember]);
  });

  it('expires the network\'s events, posts and approvals after 45 days, and still knows when it first saw each account', async () => {
    const notes = new NoteRepository(client, database);
    const veteran = 'did:plc:veteran00000000000000000';
    const longAgo = t0 - 60 * 86_400_000_000;
    const like = (rkey: string, timeUs: number): PipelineEventV1 => ({
      v: 1, type: 'like', op: 'create', did: veteran, rkey, cid: 'bafylike', timeUs, createdAtMs: 0, subjectUri: `at://${alice}/app.bsky.feed.post/3k0000000001`, subjectCid: 'bafy3k0000000001',
    });
    await events.write([like('3kveteran0001', longAgo), like('3kveteran0002', t0), post(veteran, '3kveteranp001', longAgo), post(veteran, '3kveteranp002', t0)]);
    // A post deleted long ago: its tombstone stays, so that what it took away (a note's label) stays away.
    await events.write([post(veteran, '3kveteranp003', longAgo), { v: 1, type: 'post', op: 'delete', did: veteran, rkey: '3kveteranp003', timeUs: longAgo + 1 }]);
    // Expired rows go when their part is written or merged: a merge now, not in a few hours.
    for (const table of ['event_log', 'interactions', 'posts']) await client.command({ query: `OPTIMIZE TABLE ${database}.${table} FINAL` });
    const rows = async (table: string) =>
      (await (await client.query({ query: `SELECT toString(time_us) AS t FROM ${database}.${table} WHERE ${table === 'event_log' ? 'did' : 'actor'} = {did:String} ORDER BY t`, query_params: { did: veteran }, format: 'JSONEachRow' })).json<{ t: string }>()).map((row) => Number(row.t));
    expect(await rows('event_log')).toEqual([t0, t0]);
    expect(await rows('interactions')).toEqual([t0]);
    const posts = await client.query({ query: `SELECT rkey FROM ${database}.posts WHERE did = {did:String} ORDER BY rkey`, query_params: { did: veteran }, format: 'JSONCompactEachRow' });
    expect((await posts.json<[string]>()).map(([rkey]) => rkey)).toEqual(['3kveteranp002', '3kveteranp003']);
    const states = await new PostRepository(client, database).states([`at://${veteran}/app.bsky.feed.post/3kveteranp001`, `at://${veteran}/app.bsky.feed.post/3kveteranp003`]);
    expect([...states]).toEqual([[`at://${veteran}/app.bsky.feed.post/3kveteranp003`, null]]);
    expect((await notes.firstSeen([veteran])).get(veteran)).toBe(longAgo);
  });

  it("reads a conversation's first statements only, however many are posted, and the votes on those", async () => {
    const conversations = new ConversationRepository(client, database);
    const since = t0 + 9_000_000_000;
    const rkey = (i: number) => `3kst${String(i).padStart(8, '0')}`;
    const uri = (i: number) => `at://${bob}/app.bsky.feed.post/${rkey(i)}`;
    await events.write(Array.from({ length: MAX_STATEMENTS + 3 }, (_, i) => post(bob, rkey(i), since + i, { tags: ['townhall'] })));
    // Not alice: an earlier test leaves her account taken down, and the votes of such an account do not count.
    const voter = 'did:plc:townhallvoter000000000000';
    const like = (i: number): PipelineEventV1 => ({
      v: 1, type: 'like', op: 'create', did: voter, rkey: `3klk${String(i).padStart(8, '0')}`, cid: 'bafylike', timeUs: since + 10_000 + i, createdAtMs: 0, subjectUri: uri(i), subjectCid: `bafy${rkey(i)}`,
    });
    await events.write([like(0), like(MAX_STATEMENTS + 2)]);
    const statements = await conversations.statements({ hashtag: 'townhall' }, since);
    expect(statements.length).toBe(MAX_STATEMENTS);
    expect([statements[0]!.uri, statements.at(-1)!.uri]).toEqual([uri(0), uri(MAX_STATEMENTS - 1)]);
    // The vote on a statement past the first ones is not read: it is no statement of the conversation.
    expect((await conversations.votes('townhall', { hashtag: 'townhall' }, since)).map((vote) => [vote.actor, vote.uri, vote.kind])).toEqual([[voter, uri(0), 'like']]);
  });

  it("takes a root post's own replies and quotes as its conversation's statements, wherever the root stands in its thread", async () => {
    const conversations = new ConversationRepository(client, database);
    const since = t0 + 20_000_000_000;
    const at = (did: string, rkey: string) => `at://${did}/app.bsky.feed.post/${rkey}`;
    const [carol, dave] = ['did:plc:threadcarol000000000000000', 'did:plc:threaddave0000000000000000'];
    const top = at(bob, '3kthreadtop01');
    const root = at(bob, '3kthreadroot1');
    await events.write([
      post(bob, '3kthreadtop01', since),
      // The curator's second post of the thread is the conversation's root.
      post(bob, '3kthreadroot1', since + 1, { replyRoot: top, replyParent: top }),
      post(carol, '3kanswer00001', since + 2, { replyRoot: top, replyParent: root }),
      post(dave, '3kanswer00002', since + 3, { quote: root }),
      // A reply to a statement is discussion, not a statement; a reply to the thread's top is another question's.
      post(dave, '3kanswer00003', since + 4, { replyRoot: top, replyParent: at(carol, '3kanswer00001') }),
      post(carol, '3kanswer00004', since + 5, { replyRoot: top, replyParent: top }),
    ]);
    expect((await conversations.statements({ root }, since)).map((statement) => statement.uri)).toEqual([at(carol, '3kanswer00001'), at(dave, '3kanswer00002')]);
  });

  it("takes votes on a root conversation's statements older than any feed's window: they are servable", async () => {
    const day = 86_400_000_000;
    const nowUs = Date.now() * 1000;
    const root = `at://${bob}/app.bsky.feed.post/${TID.fromTime(nowUs - 10 * day, 0).toString()}`;
    const reply = `at://${bob}/app.bsky.feed.post/3kearlyreply1`;
    await events.write([post(bob, '3kearlyreply1', nowUs - 5 * day, { replyRoot: root, replyParent: root })]);
    const servable = (feeds: object[]) => new ServablePosts(new PostRepository(client, database), { feeds: () => feeds } as unknown as FeedRegistry).servable([reply]);
    expect(await servable([{ windowHours: 72 }])).toEqual(new Set());
    expect(await servable([{ windowHours: 72 }, { windowHours: 72, deliberation: { root, participants: 'anyone' } }])).toEqual(new Set([reply]));
  });

  it('tells which of tens of thousands of pledged posts are live, a few thousand keys to a query', async () => {
    const author = 'did:plc:pledged000000000000000000';
    const rkey = (i: number) => `3kpl${String(i).padStart(8, '0')}`;
    const count = 12_001;
    await events.write(Array.from({ length: count }, (_, i) => post(author, rkey(i), t0 + 100_000 + i)));
    // Every thousandth deleted, and two posts nobody made.
    await events.write(Array.from({ length: 13 }, (_, k): PipelineEventV1 => ({ v: 1, type: 'post', op: 'delete', did: author, rkey: rkey(k * 1_000), timeUs: t0 + 200_000 + k })));
    const uris = [...Array.from({ length: count }, (_, i) => `at://${author}/app.bsky.feed.post/${rkey(i)}`), `at://${author}/app.bsky.feed.post/3kplnone0001`, `at://${alice}/app.bsky.feed.post/${rkey(5)}`];
    const live = await new FundRepository(client, database).livePosts(uris);
    expect(live.size).toBe(count - 13);
    expect([rkey(0), rkey(5_000), rkey(5_001), rkey(12_000)].map((key) => live.has(`at://${author}/app.bsky.feed.post/${key}`))).toEqual([false, false, true, false]);
  });
});
