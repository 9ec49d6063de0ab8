export { type FundRules, type Pledge, type RefusalReason } from './fund.types.js';
export { checkPledges, heldKey, type PledgeCheck } from './pledge-validation.js';
export { clusterMatch, type PostFunding, totalCredits } from './cluster-match.js';
export { eligibility, measureOf } from './eligibility.js';
export { liftOf, placeBoosts } from './boost-placement.js';
export { type Boost, boostFeed, describeBoost } from './feed-boosts.js';
export { boostedContext, boostOfContext } from './boost-context.js';
export { epochBounds, epochOf } from './epoch.js';
