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
 */
export function checkPledges(
  pledges: readonly Pledge[],
  context: {
    allowanceOf: (community: string) => number | undefined;
    isMember: (community: string, did: string) => boolean;
    isLivePost: (uri: string) => boolean;
  },
): PledgeCheck {
  const ordered = [...pledges].sort((a, b) => a.timeUs - b.timeUs || compare(a.pledger, b.pledger) || compare(a.rkey, b.rkey));
  const pledgedBy = new Map<string, number>();
  const result: PledgeCheck = { accepted: [], refused: [] };
  for (const pledge of ordered) {
    const allowance = context.allowanceOf(pledge.community);
    const key = `${pledge.community} ${pledge.pledger}`;
    const sofar = pledgedBy.get(key) ?? 0;
    const reason: RefusalReason | undefined =
      allowance === undefined
        ? 'no-fund'
        : !context.isMember(pledge.community, pledge.pledger)
          ? 'not-member'
          : !context.isLivePost(pledge.post)
            ? 'deleted-post'
            : sofar + pledge.amount > allowance
              ? 'over-allowance'
              : undefined;
    if (reason) {
      result.refused.push({ pledge, reason });
      continue;
    }
    pledgedBy.set(key, sofar + pledge.amount);
    result.accepted.push(pledge);
  }
  return result;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
