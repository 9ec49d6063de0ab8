// Feed rankings: one file each, mapped by name. Adding a ranking is one file and one line here.
import type { Ranking } from '#lib/curation';
import { rankBalanced } from './balanced.js';
import { rankBridgingWithin } from './bridging-within.js';
import { rankBridging } from './bridging.js';
import { rankDeliberation } from './deliberation.js';
import { rankDigest } from './digest.js';
import type { RankingDefinition } from './ranking.js';

export const rankings = {
  recent: { servedFrom: 'posts' },
  bridging: { servedFrom: 'snapshot', rank: rankBridging },
  'bridging-within': { servedFrom: 'snapshot', rank: rankBridgingWithin },
  balanced: { servedFrom: 'snapshot', rank: rankBalanced },
  digest: { servedFrom: 'edition', rank: rankDigest },
  deliberation: { servedFrom: 'snapshot', rank: rankDeliberation },
} as const satisfies Record<Ranking, RankingDefinition>;

export { comesAfterInRecent } from './recent.js';
export type { Edition, RankedPost, RankerState, RankFn, RankingLabels } from './ranking.js';
export { latestCadencePoint, nextCadencePoint } from './digest.js';
export { analyseConversation, type ConversationReport, type ReportStatement } from './conversation-report.js';
export { conversationSinceUs } from './conversation-window.js';
