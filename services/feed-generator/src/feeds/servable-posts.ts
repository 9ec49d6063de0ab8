import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { PostRepository } from '#lib/clickhouse';
import { conversationSinceUs } from '#lib/rankings';
import { FeedRegistry } from './feed.registry.js';

/** Post URIs remembered as served (~150 bytes each: some 30 MB at most). */
const MAX_REMEMBERED = 200_000;

/**
 * The posts this feed generator served or could serve: the only items `sendInteractions` stores
 * feedback about.
 *
 * @NOTE Two cheap steps rather than a query per item. A bounded in-memory set of the posts
 * recently served (every page of getFeedSkeleton, snapshot or recent, anonymous or not) answers
 * the usual case without I/O: clients send feedback on what they were shown. What it does not
 * hold (served by another replica, before a restart, or pushed out of the bound) is looked up in
 * one query per request on the posts' sort key: a live post, newer than the longest feed window
 * (or than a root conversation's start), is a candidate some feed could serve. That check leaves out which communities each feed draws
 * from (resolving them per request would cost more than the write it guards); beside the
 * per-viewer rate limit, "a recent live post we store" bounds what a viewer can write.
 */
@Injectable()
export class ServablePosts {
  private readonly known = new LRUCache<string, true>({ max: MAX_REMEMBERED });

  constructor(
    private readonly posts: PostRepository,
    private readonly registry: FeedRegistry,
  ) {}

  /** Posts just served on a page. */
  remember(uris: readonly string[]): void {
    for (const uri of uris) this.known.set(uri, true);
  }

  /** The subset of `uris` (post AT-URIs) that were served or could be. */
  async servable(uris: readonly string[]): Promise<Set<string>> {
    const result = new Set<string>();
    const unknown: string[] = [];
    for (const uri of new Set(uris)) {
      if (this.known.has(uri)) result.add(uri);
      else unknown.push(uri);
    }
    if (unknown.length === 0) return result;
    // The oldest a feed serves: its window, or a root conversation's start (its statements of any age).
    const nowUs = Date.now() * 1000;
    let sinceUs = nowUs;
    for (const feed of this.registry.feeds()) {
      const windowSinceUs = nowUs - feed.windowHours * 3_600_000_000;
      const root = feed.deliberation?.root;
      sinceUs = Math.min(sinceUs, root ? conversationSinceUs(root, windowSinceUs) : windowSinceUs);
    }
    for (const uri of await this.posts.liveSince(unknown, sinceUs)) {
      result.add(uri);
      this.known.set(uri, true);
    }
    return result;
  }
}
