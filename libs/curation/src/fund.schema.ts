import { z } from 'zod';
import { distinct, fields } from './fields.js';

/** Feed short names (record keys), as the curator file's feeds use them. */
const SHORTNAME = /^[a-z0-9][a-z0-9-]{0,14}$/;

/**
 * A community's Bridge Fund, under `funds.<community id>` in the curator file. Amounts are credits
 * per epoch (`FUND_EPOCH_DAYS`).
 */
export const fundSchema = fields({
  /** Credits the fund may spend on impressions of the posts it boosts, per epoch. */
  budget: z.number().finite().min(0).max(1_000_000_000),
  /** Credits matched, at most, to posts its members support together with other communities. */
  matchingPool: z.number().finite().min(0).max(1_000_000_000).default(0),
  /** Credits one member may pledge through the fund per epoch. */
  memberAllowance: z.number().finite().positive().max(1_000_000).default(100),
  /** Largest share of a page boosts may take (at most one boosted item in every 1/pageShare). */
  pageShare: z.number().finite().gt(0).max(1).default(0.2),
  /** Smoothed approval a post needs in each funding community to be eligible (0–1). */
  minBridging: z.number().finite().min(0).max(1).default(0.5),
  /** Largest lift of a boosted score: 1 lets a post pass posts scoring up to twice its own. */
  maxLift: z.number().finite().min(0).max(10).default(1),
  /** Feeds the fund may boost in; absent: every feed over its community. */
  feeds: z.array(z.string().regex(SHORTNAME, 'expected a feed short name')).superRefine(distinct).default([]),
});

export type FundDefinition = z.infer<typeof fundSchema> & { community: string };
