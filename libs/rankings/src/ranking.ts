import type { FactorModel, IdIndex } from '#lib/bridging';
import type { FeedDefinition } from '#lib/curation';
import type { Steps } from '#lib/steps';
import type { ConversationReport } from './conversation-report.js';

/** A post that may appear in the feed: inside the window, by a member or approved by members. */
export interface CandidatePost {
  uri: string;
  cid: string;
  author: string;
  timeUs: number;
}

/** One signal on a candidate post: a record (like, repost, reply, quote) or viewer feedback. */
export interface PostSignal {
  actor: string;
  uri: string;
  kind: string;
  timeUs: number;
}

export interface RankedPost {
  uri: string;
  cid: string;
  score: number;
  feedContext: string;
  /** Why the post is where it is: score parts and evidence counts, for the explanation endpoint. */
  components: Record<string, unknown>;
}

/** What a ranking keeps between two runs of one feed, to warm-start the next (indices and model). */
export interface RankerState {
  users: IdIndex;
  posts: IdIndex;
  model: FactorModel;
}

/** A digest edition: the posts frozen at one cadence point (unix ms), served in this order until the next. */
export interface Edition {
  at: number;
  posts: RankedPost[];
}

export interface RankingResult {
  posts: RankedPost[];
  state?: RankerState;
  /** A digest edition this run froze, when a cadence point has passed since the latest stored one. */
  edition?: Edition;
  /** A deliberation feed's live conversation report. */
  report?: ConversationReport;
}

/** Labels from the labelers we follow, in force now, with the values the feed's rules or the bot discount name. */
export interface RankingLabels {
  /** Post AT-URI → label values on the post. */
  posts: ReadonlyMap<string, ReadonlySet<string>>;
  /** Account DID → label values on the account. */
  accounts: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Everything a ranking reads: the feed, its communities' members, the window's posts and signals, the time. */
export interface RankingInput {
  feed: FeedDefinition;
  /** Community id → member DIDs, for the feed's communities. */
  members: ReadonlyMap<string, ReadonlySet<string>>;
  candidates: readonly CandidatePost[];
  signals: readonly PostSignal[];
  nowMs: number;
  /** The state the previous run of this feed returned, if any. */
  previous?: RankerState;
  /** What the feed's stored digest editions hold: the latest one's cadence point and every post they served. */
  editions?: { latestAt?: number; posts: ReadonlySet<string> };
  /** Labels from the labelers we follow: the feed's `exclude` and `downrank`, and `bot` accounts. */
  labels?: RankingLabels;
}

/**
 * A ranking: pure, so the same input gives the same feed. It runs in steps (`#lib/steps`), so that
 * the snapshot job gives the event loop back between its stretches of work.
 */
export type RankFn = (input: RankingInput) => Steps<RankingResult>;

/**
 * How a feed of this ranking is served: from the score snapshots the ranker writes with `rank`, or
 * live from the posts table in `order` (newest first), where a snapshot would only make it late, or
 * from the digest editions `rank` freezes at each cadence point (it writes snapshots too: the
 * posts waiting for the next edition).
 */
export type RankingDefinition = { servedFrom: 'snapshot'; rank: RankFn } | { servedFrom: 'edition'; rank: RankFn } | { servedFrom: 'posts' };
