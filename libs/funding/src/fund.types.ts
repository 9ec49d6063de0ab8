/** A member's pledge of credits to a post, on behalf of one community's fund. */
export interface Pledge {
  /** DID of the member who pledged (the repository the record is in). */
  pledger: string;
  /** Record key of the pledge, unique per pledger: the pledge's identity in refusals and the ledger. */
  rkey: string;
  /** Id of the community whose fund the pledge directs. */
  community: string;
  /** AT-URI of the post. */
  post: string;
  amount: number;
  /** When the relay saw it: pledges are taken oldest first against a member's allowance. */
  timeUs: number;
}

/** A community's fund for one epoch, as the matching and the delivery need it. */
export interface FundRules {
  community: string;
  /** Credits the fund may spend on impressions this epoch (a floor subsidy included). */
  budget: number;
  /** Credits matched to posts supported across communities, at most, this epoch. */
  matchingPool: number;
  /** Credits one member may pledge through this fund per epoch. */
  memberAllowance: number;
  /** Largest share of any page that boosts may take (0–1). */
  pageShare: number;
  /** Lowest smoothed approval rate a funding community must give a post for it to be eligible. */
  minBridging: number;
  /** A boost of `c` credits lifts a post's score by `maxLift · c / (c + 100)`. */
  maxLift: number;
  /** Feeds (short names) the fund may boost in; empty: every feed over its community. */
  feeds: readonly string[];
}

export type RefusalReason = 'no-fund' | 'not-member' | 'over-allowance' | 'deleted-post';

/**
 * An empty community → credits record. Community ids are record keys chosen by curators, and
 * `constructor` or `__proto__` is a valid id: without a prototype, no id reads or writes anything
 * but its own entry.
 */
export function perCommunity(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}
