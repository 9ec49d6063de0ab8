import { describe, expect, it } from '@jest/globals';
import { PostColumns, type ColumnPost } from './post-columns.js';

const post = (key: number, cid: string, extra: Partial<ColumnPost> = {}): ColumnPost => ({
  uri: `at://did:plc:author${key % 4}/app.bsky.feed.post/3k${String(key).padStart(11, '0')}`,
  cid,
  key,
  ...extra,
});

function columnsOf(posts: ColumnPost[], capacity = 2): PostColumns {
  const columns = new PostColumns(capacity);
  for (const item of posts) columns.push(item);
  return columns;
}

const all = (columns: PostColumns) => Array.from({ length: columns.length }, (_, index) => columns.at(index));

describe('PostColumns', () => {
  const posts = [
    post(10, 'bafya', { feedContext: 'bridging in north and south', side: 'positive' }),
    post(10, 'bafyb', { side: 'negative' }),
    post(20, 'bafya', { feedContext: 'bridging in north and south' }),
    post(30, 'bafyc', { feedContext: 'popular in north' }),
    post(40, 'bafyd'),
  ];

  it('gives back every post as it was pushed, past its initial capacity', () => {
    expect(all(columnsOf(posts))).toEqual(posts);
  });

  it('finds the first post at or after a key and CID by binary search', () => {
    const columns = columnsOf(posts);
    expect(columns.firstNotBelow(0)).toBe(0);
    expect(columns.firstNotBelow(10)).toBe(0);
    expect(columns.firstNotBelow(10, 'bafyb')).toBe(1);
    expect(columns.firstNotBelow(10, 'zzz')).toBe(2);
    expect(columns.firstNotBelow(11)).toBe(2);
    expect(columns.firstNotBelow(40, 'bafyd')).toBe(4);
    expect(columns.firstNotBelow(41)).toBe(5);
  });

  it('keeps a prefix, drops the oldest, and counts its bytes as they change', () => {
    const columns = columnsOf(posts);
    const full = columns.bytes;
    columns.truncate(3);
    expect(all(columns)).toEqual(posts.slice(0, 3));
    expect(columns.bytes).toBeLessThan(full);
    columns.push(posts[4]!);
    columns.dropFirst(2);
    expect(all(columns)).toEqual([posts[2], posts[4]]);
    expect(columns.firstNotBelow(30)).toBe(1);
    columns.dropFirst(10);
    expect(columns.length).toBe(0);
  });

  it('takes posts given as the parts of their URI, as a bulk read returns them', () => {
    const columns = new PostColumns();
    columns.pushParts('at://did:plc:author1/app.bsky.feed.post', '3k00000000001', 'bafyx', 5, 'popular in north', 'negative');
    columns.pushParts('at://did:plc:author1/app.bsky.feed.post', '3k00000000002', 'bafyy', 6);
    expect(all(columns)).toEqual([
      { uri: 'at://did:plc:author1/app.bsky.feed.post/3k00000000001', cid: 'bafyx', key: 5, feedContext: 'popular in north', side: 'negative' },
      { uri: 'at://did:plc:author1/app.bsky.feed.post/3k00000000002', cid: 'bafyy', key: 6 },
    ]);
  });

  it('puts posts read newest first into its order, past its capacity and after dropping some', () => {
    const columns = columnsOf(posts.toReversed());
    columns.reverse();
    expect(all(columns)).toEqual(posts);
    expect(columns.firstNotBelow(20)).toBe(2);
    columns.dropFirst(1);
    columns.reverse();
    columns.reverse();
    expect(all(columns)).toEqual(posts.slice(1));
  });
});
