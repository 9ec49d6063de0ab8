import fc from 'fast-check';
import { emptyFeedback, personalAdjustment, personalOrder, positionClasses, type PersonalAdjustment, type PersonalOrderOptions, type PersonalReason } from './personal-order.js';

interface Item {
  id: number;
  side: string;
  adjustment: PersonalAdjustment;
}

const order = (base: readonly Item[], take: number, window: number, complete = true) =>
  personalOrder(base, { complete, take, window, classOf: (item) => item.side, adjust: (item) => item.adjustment });

const arbitraryRanking = fc.array(
  fc.record({
    side: fc.constantFrom('positive', 'negative'),
    removed: fc.integer({ min: 0, max: 9 }).map((value) => value === 0),
    shift: fc.integer({ min: -30, max: 30 }),
  }),
  { maxLength: 120 },
);

/** A ranking with boosted posts among the others (one in seven). */
const arbitraryBoostedRanking = fc.array(
  fc.record({
    side: fc.constantFrom('positive', 'negative'),
    boosted: fc.integer({ min: 0, max: 6 }).map((value) => value === 0),
    removed: fc.integer({ min: 0, max: 9 }).map((value) => value === 0),
    shift: fc.integer({ min: -30, max: 30 }),
  }),
  { maxLength: 150 },
);

function ranking(raw: { side: string; removed: boolean; shift: number }[], window: number): Item[] {
  return raw.map((entry, id) => ({ id, side: entry.side, adjustment: { removed: entry.removed, shift: Math.max(-window, Math.min(window, entry.shift)) } }));
}

describe('a viewer\'s personal order of a ranked feed', () => {
  it('holds every post the viewer did not ask less of exactly once, whatever the shifts', () => {
    fc.assert(
      fc.property(arbitraryRanking, fc.integer({ min: 1, max: 30 }), (raw, window) => {
        const base = ranking(raw, window);
        const { items, short } = order(base, Infinity, window);
        expect(short).toBe(false);
        expect(items.map((item) => item.id).sort((a, b) => a - b)).toEqual(base.filter((item) => !item.adjustment.removed).map((item) => item.id));
      }),
    );
  });

  it('is the same order however much of the ranking was read: pages cut from it never repeat or skip a post', () => {
    fc.assert(
      fc.property(arbitraryRanking, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 40 }), (raw, window, cut, take) => {
        const base = ranking(raw, window);
        const full = order(base, Infinity, window).items;
        const partial = order(base.slice(0, cut), take, window, cut >= base.length);
        expect(full.slice(0, partial.items.length)).toEqual(partial.items);
        if (!partial.short) expect(partial.items).toEqual(full.slice(0, take));
      }),
    );
  });

  it('moves a post up by at most the window in a feed of one side (in a balanced one, a side\'s next post may come further to keep its place)', () => {
    fc.assert(
      fc.property(arbitraryRanking, fc.integer({ min: 1, max: 30 }), (raw, window) => {
        const base = ranking(raw, window).map((item) => ({ ...item, side: 'one' }));
        const removed = base.filter((item) => item.adjustment.removed).length;
        order(base, Infinity, window).items.forEach((item, position) => expect(position).toBeGreaterThanOrEqual(item.id - window - removed));
      }),
    );
  });

  it('keeps the side of every position of a balanced ranking while each side has posts left', () => {
    // Sides alternate; the viewer saw the first three positive posts and asked less of two negative ones.
    const base: Item[] = Array.from({ length: 60 }, (_, id) => ({
      id,
      side: id % 2 === 0 ? 'positive' : 'negative',
      adjustment: { removed: id === 3 || id === 5, shift: id % 2 === 0 && id < 6 ? -10 : 0 },
    }));
    const { items } = order(base, 20, 10);
    expect(items.map((item) => item.side)).toEqual(base.slice(0, 20).map((item) => item.side));
    expect(items.map((item) => item.id)).not.toContain(3);
    const positives = items.filter((item) => item.side === 'positive').map((item) => item.id);
    expect(positives.slice(0, 2)).toEqual([6, 8]);
    expect(positives).toEqual(expect.arrayContaining([0, 2, 4]));
  });

  it('holds every post exactly once with boosts among them, and keeps to the boosts\' positions, whatever the shifts', () => {
    fc.assert(
      fc.property(arbitraryBoostedRanking, fc.integer({ min: 1, max: 30 }), fc.boolean(), (raw, window, balanced) => {
        const base = raw.map((entry, id) => ({
          id,
          side: entry.side,
          ...(entry.boosted && { feedContext: '{"v":1,"f":["alpha"],"e":1}' }),
          adjustment: { removed: entry.removed, shift: Math.max(-window, Math.min(window, entry.shift)) },
        }));
        const { items, short } = personalOrder(base, { complete: true, take: Infinity, window, ...positionClasses<(typeof base)[number]>(balanced), adjust: (item) => item.adjustment });
        expect(short).toBe(false);
        expect(items.map((item) => item.id).sort((a, b) => a - b)).toEqual(base.filter((item) => !item.adjustment.removed).map((item) => item.id));
      }),
    );
  });

  it('lets a boost the viewer has seen sink like any post, to a later boost\'s position', () => {
    const boosted = (id: number, shift = 0) => ({ id, feedContext: '{"v":1,"f":["alpha"],"e":2900}', side: '', adjustment: { removed: false, shift } });
    const organic = (id: number) => ({ id, side: '', adjustment: { removed: false, shift: 0 } });
    const base = Array.from({ length: 30 }, (_, id) => (id === 1 ? boosted(id, -6) : id === 11 ? boosted(id) : organic(id)));
    const { items } = personalOrder(base, { complete: true, take: 30, window: 12, ...positionClasses<(typeof base)[number]>(false), adjust: (item) => item.adjustment });
    const ids = items.map((item) => item.id);
    expect(ids.indexOf(1)).toBeGreaterThan(1);
    expect(ids.indexOf(11)).toBeLessThanOrEqual(11);
  });

  it('never packs a page with more boosts than the ranking spaced, however many posts the viewer has seen', () => {
    const boosted = (id: number) => ({ id, feedContext: '{"v":1,"f":["alpha"],"e":2900}', side: '', adjustment: { removed: false, shift: 0 } });
    const organic = (id: number, seen: boolean) => ({ id, side: '', adjustment: { removed: false, shift: seen ? -6 : 0 } });
    // The snapshot: a boost at positions 1, 6, 11 and 16 (the page share, one in five); the viewer has seen every organic post of the first twelve.
    const base = Array.from({ length: 40 }, (_, id) => (id % 5 === 1 && id < 20 ? boosted(id) : organic(id, id < 12)));
    const { items } = personalOrder(base, { complete: true, take: 40, window: 12, ...positionClasses<(typeof base)[number]>(false), adjust: (item) => item.adjustment });
    expect(items.map((item) => item.id).sort((a, b) => a - b)).toEqual(base.map((item) => item.id));
    const isBoost = items.map((item) => 'feedContext' in item);
    for (let at = 0; at + 10 <= items.length; at += 1) expect(isBoost.slice(at, at + 10).filter(Boolean).length).toBeLessThanOrEqual(2);
    // A boost's position with no boosted post left near is filled by the organic post there, not a boost from far below.
    const asked = base.map((item) => (item.id === 1 ? { ...item, adjustment: { removed: true, shift: 0 } } : item));
    const first = personalOrder(asked, { complete: true, take: 5, window: 3, ...positionClasses<(typeof base)[number]>(false), adjust: (item) => item.adjustment }).items;
    expect(first.filter((item) => 'feedContext' in item).map((item) => item.id)).toEqual([]);
  });
  it('is the order a scan of each class for its best post gives, with boosts and sides, on any part of the ranking', () => {
    fc.assert(
      fc.property(arbitraryBoostedRanking, fc.integer({ min: 1, max: 30 }), fc.boolean(), fc.integer({ min: 0, max: 150 }), fc.integer({ min: 1, max: 60 }), (raw, window, balanced, cut, take) => {
        const base = raw.map((entry, id) => ({
          id,
          side: entry.side,
          ...(entry.boosted && { feedContext: '{"v":1,"f":["alpha"],"e":1}' }),
          adjustment: { removed: entry.removed, shift: Math.max(-window, Math.min(window, entry.shift)) },
        }));
        const options = { complete: cut >= base.length, take, window, ...positionClasses<(typeof base)[number]>(balanced), adjust: (item: (typeof base)[number]) => item.adjustment };
        expect(personalOrder(base.slice(0, cut), options)).toEqual(scannedOrder(base.slice(0, cut), options));
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * The personal order as its definition reads: at each position, a scan of the class's waiting posts
 * for the lowest key. `personalOrder` must give exactly this, however it finds the best.
 */
function scannedOrder<T>(base: readonly T[], options: PersonalOrderOptions<T>): { items: T[]; short: boolean } {
  const { complete, take, window } = options;
  const pending = new Map<string, { item: T; key: number; index: number }[]>();
  const out: T[] = [];
  let read = 0;
  const admit = (): void => {
    const item = base[read]!;
    const index = read;
    read += 1;
    const adjustment = options.adjust(item);
    if (adjustment.removed) return;
    const cls = options.classOf(item);
    let queue = pending.get(cls);
    if (!queue) pending.set(cls, (queue = []));
    queue.push({ item, key: index - adjustment.shift, index });
  };
  const best = (cls: string): number => {
    const queue = pending.get(cls);
    let found = -1;
    for (let i = 0; queue && i < queue.length; i += 1) if (found < 0 || queue[i]!.key < queue[found]!.key) found = i;
    return found;
  };
  for (let slot = 0; out.length < take; slot += 1) {
    if (slot >= base.length) return { items: out, short: !complete };
    while (read < base.length && read <= slot + window) admit();
    if (read <= slot + window && !complete) return { items: out, short: true };
    let cls = options.classOf(base[slot]!);
    let found = best(cls);
    const yielded = options.yieldsTo?.(cls);
    if (yielded !== undefined) {
      const own = pending.get(cls)?.findIndex((entry) => entry.index === slot && entry.key <= slot) ?? -1;
      if (own >= 0) found = own;
      else if (found < 0 || pending.get(cls)![found]!.key > slot) {
        const other = best(yielded);
        if (other >= 0) [cls, found] = [yielded, other];
      }
    }
    while (found < 0 && read < base.length) {
      admit();
      found = best(cls);
    }
    if (found < 0 && !complete) return { items: out, short: true };
    const fallback = found < 0 ? options.fallbackOf?.(cls) : undefined;
    if (fallback !== undefined) found = best((cls = fallback));
    if (found >= 0) out.push(pending.get(cls)!.splice(found, 1)[0]!.item);
  }
  return { items: out, short: false };
}


describe('what moves a post for a viewer', () => {
  const window = 40;
  const post = { post: 'at://did:plc:alice/app.bsky.feed.post/1', author: 'did:plc:alice', communities: ['climate'] };

  it('leaves a post where it is for a viewer who told us nothing', () => {
    expect(personalAdjustment(emptyFeedback(), post, Date.now(), window)).toEqual({ removed: false, shift: 0 });
  });

  it('counts only feedback given before the session began, and says what moved the post', () => {
    const feedback = emptyFeedback();
    feedback.moreAuthors.set('did:plc:alice', 1_000);
    feedback.moreCommunities.set('climate', 1_000);
    feedback.seen.set(post.post, 1_500);
    feedback.lessPosts.set(post.post, 3_000);
    const reasons: PersonalReason[] = [];
    expect(personalAdjustment(feedback, post, 2_000, window, reasons)).toEqual({ removed: false, shift: 40 });
    expect(reasons.map((reason) => reason.reason)).toEqual([
      'you asked for more of this author',
      'you asked for more posts supported by climate',
      'you were shown this before',
    ]);
    expect(personalAdjustment(feedback, post, 3_000, window)).toEqual({ removed: true, shift: 40 });
    // Served at the very start of this session: it does not sink within it.
    expect(personalAdjustment(feedback, post, 1_500, window).shift).toBe(window);
  });

  it('caps the sum of shifts at the window', () => {
    const feedback = emptyFeedback();
    feedback.moreAuthors.set('did:plc:alice', 1);
    feedback.moreCommunities.set('climate', 1);
    expect(personalAdjustment(feedback, post, 10, window).shift).toBe(window);
    feedback.moreAuthors.clear();
    feedback.moreCommunities.clear();
    feedback.lessAuthors.set('did:plc:alice', 1);
    feedback.seen.set(post.post, 1);
    expect(personalAdjustment(feedback, post, 10, window).shift).toBe(-window);
  });
});
