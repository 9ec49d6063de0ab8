import type { Pledge, RefusalReason } from './fund.types.js';

export interface PledgeCheck {
  accepted: Pledge[];
  refused: { pledge: Pledge; reason: RefusalReason }[];
}

/**
 * Keeps the pledges a fund can honour and says why the others are refused: a pledge to a
 * community without a fund, from someone who is not its member, beyond the member's allowance for
 * the epoch (pledges are taken oldest first, a pledge that would cross the allowance is refused
 * whole), or to a post that is deleted or unknown.
 *
 * `held` are pledges the fund holds for the epoch, whose post it was charged for while they
 * raised it: each uses the member's allowance first, withdrawn or edited since or not, and a live
 * pledge uses only what it adds to its own held amount (the same pledge of the same post, raised).
 */
export function checkPledges(
  pledges: readonly Pledge[],
  context: {
    allowanceOf: (community: string) => number | undefined;
    isMember: (community: string, did: string) => boolean;
    isLivePost: (uri: string) => boolean;
    held?: readonly Pledge[];
  },
): PledgeCheck {
  const ordered = [...pledges].sort((a, b) => a.timeUs - b.timeUs || compare(a.pledger, b.pledger) || compare(a.rkey, b.rkey));
  const pledgedBy = new Map<string, number>();
  const heldAmount = new Map<string, number>();
  for (const pledge of context.held ?? []) {
    const key = `${pledge.community} ${pledge.pledger}`;
    pledgedBy.set(key, (pledgedBy.get(key) ?? 0) + pledge.amount);
    heldAmount.set(heldKey(pledge), pledge.amount);
  }
  const result: PledgeCheck = { accepted: [], refused: [] };
  for (const pledge of ordered) {
    const allowance = context.allowanceOf(pledge.community);
    const key = `${pledge.community} ${pledge.pledger}`;
    const sofar = pledgedBy.get(key) ?? 0;
    const adds = Math.max(0, pledge.amount - (heldAmount.get(heldKey(pledge)) ?? 0));
    const reason: RefusalReason | undefined =
      allowance === undefined
        ? 'no-fund'
        : !context.isMember(pledge.community, pledge.pledger)
          ? 'not-member'
          : !context.isLivePost(pledge.post)
            ? 'deleted-post'
            : adds > 0 && sofar + adds > allowance
              ? 'over-allowance'
              : undefined;
    if (reason) {
      result.refused.push({ pledge, reason });
      continue;
    }
    pledgedBy.set(key, sofar + adds);
    result.accepted.push(pledge);
  }
  return result;
}

/** One pledge of one post, as held: a pledge edited to another post is another one. */
export const heldKey = (pledge: Pledge): string => `${pledge.community} ${pledge.pledger} ${pledge.rkey} ${pledge.post}`;

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
