import TinyQueue from 'tinyqueue';
import { boostOfContext } from '#lib/funding';
/**
 * One viewer's order of a ranked feed: the community ranking, reordered within bounds by what that
 * viewer told us. Pure: the same ranking and the same feedback give the same order, on every
 * replica, which is what lets a cursor resume it.
 */

/** What one viewer told us, each signal with the time (unix ms) it was first known. */
export interface ViewerFeedback {
  /** Posts the viewer sent `requestLess` for. */
  readonly lessPosts: Map<string, number>;
  /** Authors of those posts. */
  readonly lessAuthors: Map<string, number>;
  /** Authors of posts the viewer sent `requestMore` for. */
  readonly moreAuthors: Map<string, number>;
  /** Communities supporting those posts (from the `feedContext` they were served with). */
  readonly moreCommunities: Map<string, number>;
  /** Posts served to the viewer (impressions) or marked `interactionSeen`. */
  readonly seen: Map<string, number>;
}

export function emptyFeedback(): ViewerFeedback {
  return { lessPosts: new Map(), lessAuthors: new Map(), moreAuthors: new Map(), moreCommunities: new Map(), seen: new Map() };
}

export function hasFeedback(feedback: ViewerFeedback): boolean {
  return (
    feedback.lessPosts.size + feedback.lessAuthors.size + feedback.moreAuthors.size + feedback.moreCommunities.size + feedback.seen.size > 0
  );
}

/** A post as the adjustment sees it. */
export interface PersonalItem {
  post: string;
  author: string;
  /** Communities that support the post (its provenance). */
  communities: readonly string[];
}

export interface PersonalAdjustment {
  /** The viewer asked for less of this post. */
  removed: boolean;
  /** Positions the post moves up (positive) or down (negative), within ±window. */
  shift: number;
}

/** One reason a post moved for a viewer, for the explanation endpoint. */
export interface PersonalReason {
  reason: string;
  shift: number;
}

const before = (time: number | undefined, asOfMs: number): boolean => time !== undefined && time <= asOfMs;

/**
 * How the viewer's feedback given up to `asOfMs` moves one post. Every shift is a share of
 * `window`, and their sum is capped at ±`window`: feedback reorders the ranking, never replaces it.
 * What the viewer asked for (more of an author) outweighs what they were merely shown.
 * `reasons`, when given, receives what moved the post, in words.
 *
 * @NOTE Seen means served *before* `asOfMs` (the start of the viewer's session): what a session
 * serves does not move inside that session, only on the next visit.
 */
export function personalAdjustment(
  feedback: ViewerFeedback,
  item: PersonalItem,
  asOfMs: number,
  window: number,
  reasons?: PersonalReason[],
): PersonalAdjustment {
  const removed = before(feedback.lessPosts.get(item.post), asOfMs);
  if (removed) reasons?.push({ reason: 'you asked for less of this post', shift: 0 });
  // @NOTE Written out rather than through a helper closure: this runs for every post of every personal page.
  let shift = 0;
  if (feedback.moreAuthors.size > 0 && before(feedback.moreAuthors.get(item.author), asOfMs)) {
    shift += window;
    reasons?.push({ reason: 'you asked for more of this author', shift: window });
  }
  if (feedback.moreCommunities.size > 0) {
    for (const community of item.communities) {
      if (!before(feedback.moreCommunities.get(community), asOfMs)) continue;
      const amount = Math.round(window / 2);
      shift += amount;
      reasons?.push({ reason: `you asked for more posts supported by ${community}`, shift: amount });
      break;
    }
  }
  if (feedback.lessAuthors.size > 0 && before(feedback.lessAuthors.get(item.author), asOfMs)) {
    const amount = -Math.round(window / 2);
    shift += amount;
    reasons?.push({ reason: 'you asked for less of this author', shift: amount });
  }
  const seenAt = feedback.seen.get(item.post);
  if (seenAt !== undefined && seenAt < asOfMs) {
    const amount = -Math.round(window / 2);
    shift += amount;
    reasons?.push({ reason: 'you were shown this before', shift: amount });
  }
  return { removed, shift: Math.max(-window, Math.min(window, shift)) };
}

export interface PersonalOrderOptions<T> {
  /** True when `base` holds the whole ranking; otherwise more of it may follow. */
  complete: boolean;
  /** Items wanted from the start of the personal order. */
  take: number;
  /** The furthest a post moves: how far ahead of the current position posts are considered. */
  window: number;
  /** The class a position of the ranking keeps: the viewpoint side of a post in a balanced feed, boosted or not (`positionClasses`). */
  classOf(item: T): string;
  /**
   * The class a position of class `cls` yields to when none of `cls`'s posts within the window
   * belongs this high (each is further down once the viewer's shifts are counted): a boost's position
   * goes to the post of its side there, and the boost to a later boost's position.
   */
  yieldsTo?(cls: string): string | undefined;
  /** The class that fills a position of class `cls` when no post of `cls` is left at all, so that no post is lost. */
  fallbackOf?(cls: string): string | undefined;
  adjust(item: T): PersonalAdjustment;
}

const BOOSTED = 'boosted:';

/**
 * The classes a feed's positions keep in a personal order: the side of a balanced feed's posts, and
 * whether the snapshot boosted the post there. A boosted post fills only a position the snapshot
 * gave a boost, so posts the viewer has seen moving down never pack boosts closer than the fund's
 * page share spaced them. A boost's position with no boosted post that belongs this high (a boost
 * the viewer has seen sinks like any post) takes the post of its side there, and the boost a later
 * boost's position.
 */
export function positionClasses<T extends { feedContext?: string; side?: string }>(balanced: boolean): Pick<PersonalOrderOptions<T>, 'classOf' | 'yieldsTo' | 'fallbackOf'> {
  const organic = (cls: string) => (cls.startsWith(BOOSTED) ? cls.slice(BOOSTED.length) : undefined);
  return {
    classOf: (item) => (boostOfContext(item.feedContext ?? null) ? BOOSTED : '') + (balanced ? (item.side ?? '') : ''),
    yieldsTo: organic,
    fallbackOf: (cls) => organic(cls) ?? BOOSTED + cls,
  };
}

/** A post admitted to the order: its place in the ranking, its key (`index − shift`), and whether a position took it. */
interface Admitted<T> {
  item: T;
  key: number;
  index: number;
  taken: boolean;
}

/** Best first: the lowest key, and on a tie the ranking's order. */
const bestFirst = <T>(a: Admitted<T>, b: Admitted<T>): number => a.key - b.key || a.index - b.index;

/**
 * The first `take` items of the personal order of `base` (the community ranking, best first), or
 * `short` when that needs more of the ranking than `base` holds.
 *
 * Each position of the ranking keeps its class (viewpoint side): position n is filled by the best
 * remaining post of the class the ranking put at n, best meaning the lowest `index − shift` among
 * that class's posts up to `window` positions ahead. So a balanced page keeps every side it had; a
 * removed post's place goes to the next post of its side; a post moves at most `window` places up
 * and only as far down as better posts push it; only posts of the ranking appear, each once.
 *
 * @NOTE Each class's posts wait in a binary heap (a post a boost's position took out of turn is
 * dropped when it reaches the top): every signed-in first page runs this over ~120 posts, and
 * scanning the class for its best at each position took ~7 µs of the ~24 µs the order spent
 * besides the viewer's own lookups.
 */
export function personalOrder<T>(base: readonly T[], options: PersonalOrderOptions<T>): { items: T[]; short: boolean } {
  const { complete, take, window } = options;
  const pending = new Map<string, TinyQueue<Admitted<T>>>();
  /** The class of each position read, and the post admitted from it (none when removed). */
  const classes: string[] = [];
  const admitted: (Admitted<T> | undefined)[] = [];
  const out: T[] = [];
  let read = 0;
  const classAt = (index: number): string => (classes[index] ??= options.classOf(base[index]!));
  const admit = (): void => {
    const index = read;
    read += 1;
    const item = base[index]!;
    const adjustment = options.adjust(item);
    if (adjustment.removed) return;
    const cls = classAt(index);
    const entry = { item, key: index - adjustment.shift, index, taken: false };
    admitted[index] = entry;
    let queue = pending.get(cls);
    if (!queue) pending.set(cls, (queue = new TinyQueue<Admitted<T>>([], bestFirst)));
    queue.push(entry);
  };
  const best = (cls: string): Admitted<T> | undefined => {
    const queue = pending.get(cls);
    if (!queue) return undefined;
    while (queue.length > 0 && queue.peek()!.taken) queue.pop();
    return queue.peek();
  };
  for (let slot = 0; out.length < take; slot += 1) {
    if (slot >= base.length) return { items: out, short: !complete };
    while (read < base.length && read <= slot + window) admit();
    if (read <= slot + window && !complete) return { items: out, short: true };
    let cls = classAt(slot);
    let found = best(cls);
    const yielded = options.yieldsTo?.(cls);
    if (yielded !== undefined) {
      // The post the ranking put here keeps its place while it belongs this high; else the best
      // of its class that does, else the position goes to the class it yields to.
      const own = admitted[slot];
      if (own && !own.taken && own.key <= slot) found = own;
      else if (!found || found.key > slot) {
        const other = best(yielded);
        if (other) [cls, found] = [yielded, other];
      }
    }
    // The side has nothing within the window: its next post further down takes the place.
    while (!found && read < base.length) {
      admit();
      found = best(cls);
    }
    if (!found && !complete) return { items: out, short: true };
    const fallback = found ? undefined : options.fallbackOf?.(cls);
    if (fallback !== undefined) found = best(fallback);
    if (found) {
      found.taken = true;
      out.push(found.item);
    }
  }
  return { items: out, short: false };
}
