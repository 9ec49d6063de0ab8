import type { ConversationRepository } from '#lib/clickhouse';
import type { FeedDefinition } from '#lib/curation';
import { DeliberationFeed } from './deliberation.feed.js';
import type { SkeletonItem, SkeletonRequest } from './feed-algorithm.js';
import type { SnapshotFeed } from './snapshot.feed.js';

const statement = (rank: number): SkeletonItem => ({ post: `at://did:plc:speaker/app.bsky.feed.post/3kstatement${rank}`, cid: `bafy${rank}`, sortKey: rank });

/** A conversation of `count` statements in routing order (one snapshot), of which `viewer` voted on the first `voted`. */
function conversation(count: number, voted: number, viewer: string) {
  const statements = Array.from({ length: count }, (_, i) => statement(i + 1));
  const snapshots = {
    skeleton: ({ limit, cursor }: SkeletonRequest) => {
      const after = cursor?.sortKey ?? 0;
      return Promise.resolve({ ordering: 's1', items: statements.filter((item) => item.sortKey > after).slice(0, limit) });
    },
  } as unknown as SnapshotFeed;
  const votes = new Set(statements.slice(0, voted).map((item) => item.post));
  const conversations = {
    // The votes are the conversation `talk`'s: none counts in another.
    votedBy: (talk: string, who: string, posts: readonly string[]) => Promise.resolve(new Set(talk === 'talk' && who === viewer ? posts.filter((post) => votes.has(post)) : [])),
  } as unknown as ConversationRepository;
  return new DeliberationFeed(snapshots, conversations);
}

describe('the deliberation feed of a signed-in participant', () => {
  const viewer = 'did:plc:participant';
  const feed = { shortname: 'talk', ranking: 'deliberation' } as FeedDefinition;

  it('says where to go on when every statement it read was voted on, and the statements left are served from there', async () => {
    const deliberation = conversation(200, 150, viewer);
    const first = await deliberation.skeleton({ feed, limit: 30, viewer });
    expect(first.items).toEqual([]);
    expect(first.next).toMatchObject({ sortKey: 150, cid: 'bafy150' });
    const second = await deliberation.skeleton({ feed, limit: 30, viewer, cursor: { ordering: first.ordering, sortKey: first.next!.sortKey, cid: first.next!.cid } });
    expect(second.items.map((item) => item.sortKey)).toEqual(Array.from({ length: 30 }, (_, i) => 151 + i));
    expect(second.next).toBeUndefined();
  });

  it('ends where the statements end', async () => {
    const deliberation = conversation(40, 35, viewer);
    const page = await deliberation.skeleton({ feed, limit: 30, viewer });
    expect(page.items.map((item) => item.sortKey)).toEqual([36, 37, 38, 39, 40]);
    expect(page.next).toBeUndefined();
  });
});
