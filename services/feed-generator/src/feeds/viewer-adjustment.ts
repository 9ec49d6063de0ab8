import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { supportInContext } from '#lib/bridging';
import type { AppConfig } from '#lib/config';
import { parsePersonalOrdering, personalOrdering, type FeedCursor, type PersonalOrdering } from '#lib/domain';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import type { FeedAlgorithm, SkeletonItem, SkeletonPage, SkeletonRequest } from './feed-algorithm.js';
import {
  hasFeedback,
  personalAdjustment,
  personalOrder,
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

/** A session's personal order from its top; `whole` when it holds the whole ranking. */
interface SessionOrder {
  items: SkeletonItem[];
  whole: boolean;
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
 */
@Injectable()
export class ViewerAdjustment {
  private readonly window: number;
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
    this.log = logger.child({ component: 'viewer-feedback' });
  }

  /** The page `algorithm` serves for `request`, adjusted for its viewer. */
  async page(algorithm: FeedAlgorithm, request: SkeletonRequest): Promise<SkeletonPage> {
    const { viewer, cursor } = request;
    // @NOTE A deliberation feed is already the viewer's own (statements they have not voted on, in
    // Polis's routing order), and "show less" there is a vote, not a preference.
    if (viewer === undefined || request.feed.ranking === 'deliberation') return algorithm.skeleton(request);
    const session = cursor && parsePersonalOrdering(cursor.ordering);
    if (session) return this.personalPage(algorithm, request, await this.store.feedbackOf(viewer), session);
    const feedback = await this.feedbackOrNothing(viewer);
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
    const { feed, limit, cursor } = request;
    const position = cursor?.sortKey ?? 0;
    const asOf = session.sessionMs - SETTLE_MS;
    let lateRemovals = 0;
    for (const time of feedback.lessPosts.values()) if (time > asOf) lateRemovals += 1;
    const take = position + limit + lateRemovals;
    const key = `${request.viewer} ${feed.shortname} ${session.snapshot} ${session.sessionMs}`;
    let order = this.orders.get(key);
    if (!order || (!order.whole && order.items.length < take)) {
      // A first page computes itself only: most sessions have one page.
      order = await this.sessionOrder(algorithm, request, feedback, session, position === 0 ? take : take + PAGES_AHEAD * limit);
      this.orders.set(key, order);
    }
    const page = pageAfter(order.items, position, cursor?.cid, limit, feedback.lessPosts);
    return { ordering: personalOrdering(session), items: this.removed.filter(page) };
  }

  /** The first `take` posts of the session's personal order (all of it, when the ranking holds fewer). */
  private async sessionOrder(algorithm: FeedAlgorithm, request: SkeletonRequest, feedback: ViewerFeedback, session: PersonalOrdering, take: number): Promise<SessionOrder> {
    const { feed, cursor } = request;
    const asOf = session.sessionMs - SETTLE_MS;
    const adjust = (item: SkeletonItem): PersonalAdjustment =>
      personalAdjustment(feedback, { post: item.post, author: authorOf(item.post), communities: this.communities(feedback, item) }, asOf, this.window);
    const classOf = feed.ranking === 'balanced' ? (item: SkeletonItem) => item.side ?? '' : () => '';
    // The top of the pinned snapshot: rank 0 is before every item.
    const top: FeedCursor = { ordering: `s${session.snapshot}`, sortKey: 0, cid: cursor?.cid ?? 'bafyreitop' };
    // Enough for the order up to `take` in one read unless the ranking holds more removed posts than the viewer's own.
    let read = take + this.window + feedback.lessPosts.size + 1;
    for (;;) {
      const base = await algorithm.skeleton({ feed, limit: read, cursor: top });
      const complete = base.items.length < read;
      const { items: order, short } = personalOrder(base.items, { complete, take, window: this.window, classOf, adjust });
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
      const last = page.items.at(-1);
      if (!last || page.items.length < request.limit) break;
      page = await algorithm.skeleton({ ...request, cursor: { ordering, sortKey: last.sortKey, cid: last.cid } });
      if (page.ordering !== ordering) break;
      items.push(...kept(page.items));
    }
    // A feed that ends (a digest edition) still ends, unless posts of its last page wait for the next one.
    const ends = page.ends === true && items.length <= request.limit;
    return { ordering, items: items.slice(0, request.limit), ...(ends && { ends }) };
  }

  private communities(feedback: ViewerFeedback, item: SkeletonItem): readonly string[] {
    if (feedback.moreCommunities.size === 0 || !item.feedContext) return [];
    let parsed = this.contexts.get(item.feedContext);
    if (!parsed) this.contexts.set(item.feedContext, (parsed = supportInContext(item.feedContext)));
    return parsed;
  }
}

/**
 * The page after `position` of a personal order: the next `limit` posts not asked less of since.
 * Each carries its position (1-based) as sort key: the next cursor resumes after it. Should the
 * order at the cursor not hold the cursor's post (feedback read again differed), the page resumes
 * after wherever that post now is.
 */
function pageAfter(order: readonly SkeletonItem[], position: number, cid: string | undefined, limit: number, removed: ReadonlyMap<string, number>): SkeletonItem[] {
  let start = position;
  if (cid !== undefined && position > 0 && order[position - 1]?.cid !== cid) {
    const found = order.findIndex((item) => item.cid === cid);
    if (found >= 0) start = found + 1;
  }
  const page: SkeletonItem[] = [];
  for (let index = start; index < order.length && page.length < limit; index += 1) {
    const item = order[index]!;
    if (!removed.has(item.post)) page.push({ ...item, sortKey: index + 1 });
  }
  return page;
}

/** The DID of a post's AT-URI (`at://<did>/…`). */
function authorOf(post: string): string {
  const end = post.indexOf('/', 5);
  return end < 0 ? '' : post.slice(5, end);
}
