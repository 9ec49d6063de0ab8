/**
 * The admin API's JSON as the console reads it.
 *
 * @NOTE The shapes the server declares whole (a conversation's report, a fund and its ledger, the
 * backfill's state, the pipeline's samples, a feed's preview) are its own types, imported with
 * `import type`: the build erases those imports, so no server code reaches the browser. The rest
 * are the console's view of a controller's answer; console.assets.spec.ts checks, in the server's
 * program, that what the controllers return fits them, so the two cannot drift apart silently.
 */
import type { DeliberationDefinition, DigestDefinition, FeedLabelRules, FundDefinition } from '#lib/curation';
import type { BackfillState, PipelineSample } from '#lib/platform';
import type { ConversationReport, ReportStatement } from '#lib/rankings';
import type { FundReport } from '../../funds/fund-report.service.js';
import type { FeedPreview, PreviewItem, Provenance } from '../feed-preview.service.js';

export type { BackfillState, ConversationReport, FeedPreview, FundReport, PipelineSample, PreviewItem, Provenance, ReportStatement };

export type Ranking = 'recent' | 'bridging' | 'bridging-within' | 'balanced' | 'digest' | 'deliberation';

export interface FeedFreshness {
  shortname: string;
  posts: number | null;
  ageSeconds: number | null;
}

export interface ConsoleOverview {
  role: string;
  now: number;
  readiness: {
    ready: boolean;
    checks: { bus: boolean; clickhouse: boolean; snapshot: boolean };
    snapshot: { applies: boolean; stale: boolean; ageSeconds: number | null; staleAfterSeconds: number; feeds: FeedFreshness[] };
  };
  history: PipelineSample[];
  current: PipelineSample;
  backfill: BackfillState;
}

export interface MemberSources {
  dids: string[];
  handles: string[];
  lists: string[];
  starterPacks: string[];
  hashtags: string[];
  followersOf: string[];
  exclude: string[];
}

export interface Community {
  id: string;
  name: string;
  description: string;
  members: MemberSources;
  /** Whether a members-only feed may serve this community although anyone can join it (hashtags, followers). */
  allowSelfEnrolment?: boolean;
}

export interface Feed {
  shortname: string;
  displayName: string;
  description: string;
  communities: string[];
  ranking: Ranking;
  membersOnly: boolean;
  includeReplies: boolean;
  windowHours: number;
  halfLifeHours: number;
  /** The timescales the curation does not write: they follow the default (which a digest's cadence sets). */
  defaulted?: ('windowHours' | 'halfLifeHours')[];
  balance: 'equal' | Record<string, number>;
  /** A `digest` feed's cadence, size, base ranking and end card. */
  digest?: DigestDefinition;
  /** A `deliberation` feed's conversation: its root post or hashtag, and whose votes count. */
  deliberation?: DeliberationDefinition;
  /** What the feed does with posts labelled by the labelers we follow; absent when nothing. */
  labels?: FeedLabelRules;
}

export interface Curation {
  file: string;
  lastProblem: string | null;
  communities: Community[];
  feeds: Feed[];
}

export interface CommunityMembers {
  count: number;
  /** Why the community counts as empty: its sources name more accounts than the deployment's bound. */
  tooLarge?: string;
}

export interface Explanation {
  snapshot: number | null;
  /** A digest feed's edition the answer is about (its cadence point, unix ms). */
  edition?: number | null;
  rank: number | null;
  score: number | null;
  reason?: string;
}

export interface EditionPost {
  rank: number;
  uri: string;
  text: string | null;
  score: number;
  supportedBy: string[];
  divisiveIn: string[];
}

/** GET /api/feeds/<name>/editions: a digest feed's editions, newest first. */
export interface Editions {
  /** The digest feed's at:// URI and its name as subscribers see it. */
  feed: string;
  displayName: string;
  cadence: { cadence: 'daily' | 'weekly'; day?: string; at: string; timeZone: string; size: number; base: string };
  /** The cadence point of the next edition: a past one while its edition is due. */
  nextEditionAt: string;
  /** The latest cadence point's edition is not frozen yet: the ranker freezes it at its next run. */
  editionDue: boolean;
  endCard: string | null;
  editions: { edition: number; at: string; frozenAt: string; posts: EditionPost[] }[];
}

/** GET /api/conversations/<name>: a conversation's live report. */
export interface ConversationView {
  conversation: string;
  title: string;
  /** The at:// URI of the deliberation feed its statements are voted on in. */
  feed: string;
  source: { root: string } | { hashtag: string };
  participants: 'anyone' | 'members';
  report: ConversationReport | null;
  texts: Record<string, string>;
}

/** What PUT /api/admin/communities/<id> takes. */
export interface CommunityInput {
  name?: string;
  description?: string;
  members: Partial<MemberSources>;
  allowSelfEnrolment?: boolean;
}

/** What PUT /api/admin/feeds/<name> takes: the label rules as the curator file writes them (`exclude`, `downrank`). */
export type FeedInput = Partial<Omit<Feed, 'shortname' | 'labels'>> & Partial<FeedLabelRules>;

/** `GET /api/admin/funds`: the Bridge Funds of the curator file. */
export type Fund = FundDefinition;

/** What PUT /api/admin/funds/<community> takes. */
export type FundInput = Partial<Omit<Fund, 'community'>>;

/** GET /api/admin/console/labels: what we label, and the labelers we follow. */
export interface ConsoleLabels {
  labeler: { did: string; endpoint: string } | null;
  totals: { lastSeq: number; inForce: Record<string, number>; historyFloor: number };
  followed: { src: string; cursor: number | null; stored: number; inForce: number; newestLabelAt: string | null; rejected: number }[];
}

/** GET /api/admin/console/notes: context notes by status, their latest changes, and the posts waiting for a note. */
export interface ConsoleNotes {
  helpful: number;
  needsMoreRatings: number;
  notHelpful: number;
  changes: { atMs: number; note: string; post: string; from: string; to: string; reason: string }[];
  requested: { post: string; requests: number; firstRequestedMs: number; notes: number }[];
}
