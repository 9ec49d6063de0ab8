import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { supportInContext } from '#lib/bridging';
import type { AppConfig } from '#lib/config';
import { InvalidCursorError, parsePersonalOrdering, personalOrdering, type FeedCursor, type PersonalOrdering } from '#lib/domain';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import { authorOf, type FeedAlgorithm, type SkeletonItem, type SkeletonPage, type SkeletonRequest } from './feed-algorithm.js';
import {
  hasFeedback,
  personalAdjustment,
  personalOrder,
  positionClasses,
  type PersonalAdjustment,
  type PersonalReason,
  type ViewerFeedback,
} from './personal-order.js';
import { RemovedContent } from './removed-content.js';
import { ViewerFeedbackStore } from './viewer-feedback.store.js';

/** Pages of the ranking read at once while removed posts are skipped in a feed served in its own order. */
const REFILL_ROUNDS = 4;
/**
 * How old feedback must be when a session starts to move posts in it: long enough to have reached
 * every replica (the bus's latency; impressions are published about once a second), so that every
 * replica computes the same order for the session's cursor. Removal does not wait (see `pageAfter`).
 */
const SETTLE_MS = 3_000;
/** Distinct `feedContext` texts whose communities are kept parsed (they repeat: a few per feed). */
const PARSED_CONTEXTS = 10_000;
/**
 * Posts of sessions' personal orders kept, all sessions together: references to the snapshot's
 * cached top, ~8 bytes each (16 MB), a few hundred per session.
 */
const SESSION_ORDER_POSTS = 2_000_000;
/** A session's order is kept this long after its last page. */
const SESSION_ORDER_TTL_MS = 10 * 60_000;
/** Pages of a session's order computed beyond the one asked for, so that a reader scrolling on finds them ready. */
const PAGES_AHEAD = 4;
/** The CID of a cursor at the top of a snapshot (rank 0, before every item): the snapshot's pages read only its rank. */
const TOP_CID = 'bafyreitop';

/** A session's personal order from its top; `whole` when it holds the whole ranking. */
interface SessionOrder {
  items: SkeletonItem[];
  whole: boolean;
  /** Its posts, once a page past its depth asked (they are left out of the rest of the session). */
  served?: Set<string>;
}

/** What moved a post for a viewer, for the explanation endpoint. */
export interface PersonalExplanation {
  viewer: string;
  removed: boolean;
  shift: number;
  reasons: PersonalReason[];
}

/**
 * Per-viewer adjustment of a page: the viewer's own feedback applied on top of the community
 * ranking, for that viewer only. Anonymous requests are served the ranking unchanged.
 *
 * - Posts the viewer sent `requestLess` for never appear (every feed).
 * - A ranked feed (served from a score snapshot) is served in the viewer's personal order
 *   (`personalOrder`): posts by authors and communities they asked more of move up, posts by
 *   authors they asked less of and posts served to them before this visit move down, each at most
 *   `VIEWER_FEEDBACK_WINDOW` positions, and a balanced feed keeps each side's positions.
 * - A recent feed stays newest first: feedback only removes.
 *
 * @NOTE Pagination. A personal order is a pure function of the snapshot and the viewer's feedback
 * as of the session's first page (less `SETTLE_MS`), so the cursor carries both: `p<snapshot>-<sessionMs>::<position>
 * ::<cid>`. Each page recomputes the order from the top of the snapshot up to the cursor's position
 * plus a page (cheap: the snapshot's top is in memory) and serves the next posts, so every post
 * appears once, in order, on any replica. Feedback given during the session changes the order only
 * on the next visit, except `requestLess`, which removes the post from the following pages at once.
 * Since the order is a pure function of the session, each replica keeps a session's order once
 * computed (LRU, bounded in posts) and computes `PAGES_AHEAD` pages ahead: a reader scrolling on
 * costs a slice, not a recomputation. Posts deleted since are left out as on every page.
 *
 * A personal order covers the first `VIEWER_FEEDBACK_DEPTH` positions; past them the session goes
 * on in the ranking's own order without the posts it served (`p<snapshot>-<sessionMs>r::<rank>::
 * <cid>`), so no post is lost or repeated at the switch. That bounds what any page costs, a
 * cursor written to reach a millionth position included: it is refused, not computed.
 */
@Injectable()
export class ViewerAdjustment {
  private readonly window: number;
  private readonly depth: number;
  private readonly contexts = new LRUCache<string, string[]>({ max: PARSED_CONTEXTS });
  private readonly orders = new LRUCache<string, SessionOrder>({
    maxSize: SESSION_ORDER_POSTS,
    sizeCalculation: (order) => Math.max(1, order.items.length),
    ttl: SESSION_ORDER_TTL_MS,
  });
  private readonly log: Logger;

  constructor(
    private readonly store: ViewerFeedbackStore,
    private readonly removed: RemovedContent,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.window = config.feedGenerator.viewerFeedback.window;
    this.depth = config.feedGenerator.viewerFeedback.depth;
    this.log = logger.child({ component: 'viewer-feedback' });
  }

  /** The page `algorithm` serves for `request`, adjusted for its viewer. */
  async page(algorithm: FeedAlgorithm, request: SkeletonRequest): Promise<SkeletonPage> {
    const { viewer, cursor } = request;
    // @NOTE A deliberation feed is already the viewer's own (statements they have not voted on, in
    // Polis's routing order), and "show less" there is a vote, not a preference.
    if (request.feed.ranking === 'deliberation') return algorithm.skeleton(request);
    const session = cursor && parsePersonalOrdering(cursor.ordering);
    if (viewer === undefined && !session) return algorithm.skeleton(request);
    const feedback = viewer === undefined ? undefined : await this.feedbackOrNothing(viewer);
    if (session) {
      if (feedback) return this.personalPage(algorithm, request, feedback, session);
      // The viewer's identity or history cannot be read now (the request is served as anonymous):
      // the session goes on in the ranking's own order from about where it was, rather than failing.
      return algorithm.skeleton({ ...request, cursor: { ordering: `s${session.snapshot}`, sortKey: cursor.sortKey, cid: cursor.cid } });
    }
    if (!feedback || !hasFeedback(feedback)) return algorithm.skeleton(request);
    if (!cursor && request.feed.ranking !== 'recent') {
      const top = await algorithm.skeleton({ feed: request.feed, limit: 1 });
      const snapshot = /^s(\d+)$/.exec(top.ordering);
      if (snapshot) return this.personalPage(algorithm, request, feedback, { snapshot: Number(snapshot[1]), sessionMs: Date.now() });
    }
    return this.withoutRemoved(algorithm, request, feedback);
  }

  /** What the viewer's feedback as of now does to one post of a feed. */
  async explain(viewer: string, post: string, communities: readonly string[]): Promise<PersonalExplanation> {
    const reasons: PersonalReason[] = [];
    const feedback = await this.store.feedbackOf(viewer);
    const { removed, shift } = personalAdjustment(feedback, { post, author: authorOf(post), communities }, Date.now(), this.window, reasons);
    return { viewer, removed, shift, reasons };
  }

  /**
   * A page of a fresh request served without the viewer's history when ClickHouse cannot give it:
   * the ranking still serves (as to anyone), and the viewer's next visit is personal again.
   */
  private async feedbackOrNothing(viewer: string): Promise<ViewerFeedback | undefined> {
    try {
      return await this.store.feedbackOf(viewer);
    } catch (error) {
      this.log.warn({ viewer, err: (error as Error).message }, 'viewer feedback unavailable; serving the community ranking');
      return undefined;
    }
  }

  private async personalPage(algorithm: FeedAlgorithm, request: SkeletonRequest, feedback: ViewerFeedback, session: PersonalOrdering): Promise<SkeletonPage> {
    const { limit, cursor } = request;
    const position = cursor?.sortKey ?? 0;
    if (session.rest) return this.restPage(algorithm, request, feedback, session, position, limit);
    if (position > this.depth) throw new InvalidCursorError('cursor is past the depth of a personal order');
    const asOf = session.sessionMs - SETTLE_MS;
    let lateRemovals = 0;
    for (const time of feedback.lessPosts.values()) if (time > asOf) lateRemovals += 1;
    const take = Math.min(position + limit + lateRemovals, this.depth);
    // A first page computes itself only: most sessions have one page.
    let order = await this.orderOf(algorithm, request, feedback, session, take, position === 0 ? take : Math.min(take + PAGES_AHEAD * limit, this.depth));
    const left = (post: string) => feedback.lessPosts.has(post) || this.removed.removes(post);
    let page = pageAfter(order.items, position, cursor?.cid, limit, left);
    // Posts removed since the order was computed (an account taken down) leave it short: it is read
    // further, up to its depth, rather than end the session's feed early.
    for (let more = order.items.length; page.length < limit && !order.whole && more < this.depth; ) {
      more = Math.min(this.depth, more * 2 + limit);
      order = await this.orderOf(algorithm, request, feedback, session, more, more);
      page = pageAfter(order.items, position, cursor?.cid, limit, left);
    }
    if (page.length < limit && !order.whole && order.items.length >= this.depth) {
      // The page reaches the depth the personal order covers: the session goes on in the ranking's order.
      const rest = await this.restPage(algorithm, request, feedback, session, 0, limit - page.length);
      if (rest.items.length > 0) return { ordering: rest.ordering, items: [...page, ...rest.items] };
    }
    return { ordering: personalOrdering(session), items: page };
  }

  /**
   * The session's order with at least `need` posts (or the whole ranking): kept, or computed to
   * `take` posts. Keyed by the session, so every page of it and every replica agree.
   */
  private async orderOf(algorithm: FeedAlgorithm, request: SkeletonRequest, feedback: ViewerFeedback, session: PersonalOrdering, need: number, take: number): Promise<SessionOrder> {
    const key = `${request.viewer} ${request.feed.shortname} ${session.snapshot} ${session.sessionMs}`;
    let order = this.orders.get(key);
    if (!order || (!order.whole && order.items.length < need)) {
      order = await this.sessionOrder(algorithm, request, feedback, session, take);
      this.orders.set(key, order);
    }
    return order;
  }

  /**
   * A page of the session past the depth its personal order covers: the ranking after `afterRank`
   * in its own order, without the posts the personal order served and those the viewer asked less
   * of. Sort keys are ranks again, so a page costs a read of the ranking plus the served posts still
   * ahead of it, at any depth.
   */
  private async restPage(algorithm: FeedAlgorithm, request: SkeletonRequest, feedback: ViewerFeedback, session: PersonalOrdering, afterRank: number, limit: number): Promise<SkeletonPage> {
    const ordering = personalOrdering({ ...session, rest: true });
    const order = await this.orderOf(algorithm, request, feedback, session, this.depth, this.depth);
    if (order.whole) return { ordering, items: [] };
    order.served ??= new Set(order.items.map((item) => item.post));
    let ahead = 0;
    for (const item of order.items) if (item.sortKey > afterRank) ahead += 1;
    const base = `s${session.snapshot}`;
    const items: SkeletonItem[] = [];
    let after = afterRank;
    for (let round = 0; round < REFILL_ROUNDS && items.length < limit; round += 1) {
      const read = limit - items.length + ahead + feedback.lessPosts.size;
      const page = await algorithm.skeleton({ feed: request.feed, limit: read, cursor: { ordering: base, sortKey: after, cid: request.cursor?.cid ?? TOP_CID } });
      if (page.ordering !== base) break;
      for (const item of page.items) {
        if (items.length < limit && !order.served.has(item.post) && !feedback.lessPosts.has(item.post)) items.push(item);
      }
      const last = page.next ?? page.items.at(-1);
      if (!last || (!page.next && page.items.length < read)) break;
      after = last.sortKey;
    }
    return { ordering, items };
  }

  /** The first `take` posts of the session's personal order (all of it, when the ranking holds fewer). */
  private async sessionOrder(algorithm: FeedAlgorithm, request: SkeletonRequest, feedback: ViewerFeedback, session: PersonalOrdering, take: number): Promise<SessionOrder> {
    const { feed, cursor } = request;
    const asOf = session.sessionMs - SETTLE_MS;
    const adjust = (item: SkeletonItem): PersonalAdjustment =>
      personalAdjustment(feedback, { post: item.post, author: item.author ?? authorOf(item.post), communities: this.communities(feedback, item) }, asOf, this.window);
    const classes = positionClasses<SkeletonItem>(feed.ranking === 'balanced');
    // The top of the pinned snapshot: rank 0 is before every item.
    const top: FeedCursor = { ordering: `s${session.snapshot}`, sortKey: 0, cid: cursor?.cid ?? TOP_CID };
    // Enough for the order up to `take` in one read unless the ranking holds more removed posts than the viewer's own.
    let read = take + this.window + feedback.lessPosts.size + 1;
    for (;;) {
      const base = await algorithm.skeleton({ feed, limit: read, cursor: top, withRemoved: true });
      // A read stopped by a long run of removed posts (`next`) ends the order there rather than reading on without bound.
      const complete = base.items.length < read || base.next !== undefined;
      const { items: order, short } = personalOrder(base.items, { complete, take, window: this.window, ...classes, adjust });
      if (short) {
        read *= 2;
        continue;
      }
      return { items: order, whole: order.length < take };
    }
  }

  /** The feed in its own order, without the posts the viewer asked less of (refilled from further down). */
  private async withoutRemoved(algorithm: FeedAlgorithm, request: SkeletonRequest, feedback: ViewerFeedback): Promise<SkeletonPage> {
    const kept = (items: readonly SkeletonItem[]) => items.filter((item) => !feedback.lessPosts.has(item.post));
    let page = await algorithm.skeleton(request);
    const { ordering } = page;
    const items = kept(page.items);
    for (let round = 1; round < REFILL_ROUNDS && items.length < request.limit; round += 1) {
      const last = page.next ?? page.items.at(-1);
      if (!last || (!page.next && page.items.length < request.limit)) break;
      page = await algorithm.skeleton({ ...request, cursor: { ordering, sortKey: last.sortKey, cid: last.cid } });
      if (page.ordering !== ordering) break;
      items.push(...kept(page.items));
    }
    // A feed that ends (a digest edition) still ends, unless posts of its last page wait for the next one.
    const ends = page.ends === true && items.length <= request.limit;
    // Rounds ran out on posts the viewer asked less of: the next page starts after the last one read.
    const read = page.next ?? page.items.at(-1);
    const next = !ends && items.length < request.limit && read && (page.next || page.items.length >= request.limit) ? read : undefined;
    return { ordering, items: items.slice(0, request.limit), ...(ends && { ends }), ...(next && { next }) };
  }

  private communities(feedback: ViewerFeedback, item: SkeletonItem): readonly string[] {
    if (feedback.moreCommunities.size === 0 || !item.feedContext) return [];
    let parsed = this.contexts.get(item.feedContext);
    if (!parsed) this.contexts.set(item.feedContext, (parsed = supportInContext(item.feedContext)));
    return parsed;
  }
}

/**
 * The page after `position` of a personal order: the next `limit` posts not asked less of or
 * removed since. Each carries its position (1-based) as sort key: the next cursor resumes after it.
 * Should the order at the cursor not hold the cursor's post (feedback read again differed), the
 * page resumes after wherever that post now is.
 */
function pageAfter(order: readonly SkeletonItem[], position: number, cid: string | undefined, limit: number, removed: (post: string) => boolean): SkeletonItem[] {
  let start = position;
  if (cid !== undefined && position > 0 && order[position - 1]?.cid !== cid) {
    const found = order.findIndex((item) => item.cid === cid);
    if (found >= 0) start = found + 1;
  }
  const page: SkeletonItem[] = [];
  for (let index = start; index < order.length && page.length < limit; index += 1) {
    const item = order[index]!;
    if (!removed(item.post)) page.push({ ...item, sortKey: index + 1 });
  }
  return page;
}
