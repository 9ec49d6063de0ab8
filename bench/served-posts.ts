/**
 * The posts the serving benchmarks (`bench:feed`, `bench:memory`) serve, written straight into
 * ClickHouse as the scoring service would have written them (`INSERT … SELECT FROM numbers()`):
 * one complete bridging snapshot of ranked posts (each with a provenance `feedContext`, as the ranker
 * writes it), and posts by the community for the recent feed.
 * Post `n` is by `authors[n % authors.length]`, its rkey is `3l` and `n` in hex, its CID a hash of `n`.
 */
import type { ClickHouseClient } from '#lib/clickhouse';

/** SQL for the AT-URI of post `n` (`n`: an SQL expression); the query needs the parameters `authors` and `n` (their count). */
export const postUriSql = (n: string) =>
  `concat('at://', {authors:Array(String)}[(${n}) % {n:UInt32} + 1], '/app.bsky.feed.post/3l', lower(leftPad(hex(${n}), 11, '0')))`;
const cidSql = `concat('bafyrei', lower(hex(cityHash64(number, 1))), lower(hex(cityHash64(number, 2))), lower(hex(cityHash64(number, 3))))`;

/** One complete snapshot of `feed`: `posts` ranks, post `n` at rank `n + 1` with score `1 / (n + 1)`. */
export async function loadScoredPosts(
  clickhouse: ClickHouseClient,
  { database, feed, snapshot, authors, posts }: { database: string; feed: string; snapshot: number; authors: readonly string[]; posts: number },
): Promise<void> {
  await clickhouse.command({
    query: `INSERT INTO ${database}.feed_scores (feed, snapshot, rank, uri, cid, score, feed_context, components)
      SELECT {feed:String}, {snapshot:UInt64}, toUInt32(number + 1), ${postUriSql('number')}, ${cidSql}, 1 / (number + 1),
        if(number % 7 = 0, '{"v":1,"b":["north"],"d":["south"]}', '{"v":1,"b":["north","south"],"d":[]}'), '{}'
      FROM numbers({posts:UInt64})`,
    query_params: { feed, snapshot, authors, n: authors.length, posts },
  });
  await clickhouse.insert({ table: `${database}.feed_snapshots`, values: [{ feed, snapshot, posts }], format: 'JSONEachRow' });
}

/** `posts` live posts, one a millisecond back from `newestUs` (post `n` at `newestUs - n * 1000`). */
export async function loadRecentPosts(
  clickhouse: ClickHouseClient,
  { database, authors, newestUs, posts }: { database: string; authors: readonly string[]; newestUs: number; posts: number },
): Promise<void> {
  await clickhouse.command({
    query: `INSERT INTO ${database}.posts (did, rkey, cid, time_us, created_at, text, langs, tags, reply_root, reply_parent, quote, has_media, deleted, version)
      SELECT {authors:Array(String)}[number % {n:UInt32} + 1], concat('3l', lower(leftPad(hex(number), 11, '0'))), ${cidSql},
        {newestUs:UInt64} - number * 1000, fromUnixTimestamp64Micro(toInt64({newestUs:UInt64} - number * 1000)),
        concat('post ', toString(number)), ['en'], [], '', '', '', 0, 0, 1
      FROM numbers({posts:UInt64})`,
    query_params: { authors, n: authors.length, newestUs, posts },
  });
}
