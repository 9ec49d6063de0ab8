// Feed rankings: one file each, mapped by name. Adding a ranking is one file and one line here.
import type { Ranking } from '#lib/curation';
import { rankBalanced } from './balanced.js';
import { rankBridgingWithin } from './bridging-within.js';
import { rankBridging } from './bridging.js';
import type { RankingDefinition } from './ranking.js';

export const rankings = {
  recent: { servedFrom: 'posts' },
  bridging: { servedFrom: 'snapshot', rank: rankBridging },
  'bridging-within': { servedFrom: 'snapshot', rank: rankBridgingWithin },
  balanced: { servedFrom: 'snapshot', rank: rankBalanced },
} as const satisfies Record<Ranking, RankingDefinition>;

export { comesAfterInRecent } from './recent.js';
export type { RankedPost, RankerState, RankFn, RankingLabels } from './ranking.js';
