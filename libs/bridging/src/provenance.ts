import type { FactorModel, OpinionAxis } from './factor-model.js';
import { wilsonLowerBound, type GroupConsensus } from './group-consensus.js';
import type { GroupEvidence } from './group-evidence.js';
import { groupName, type GroupMembership } from './group-membership.js';

/** Where a post's support comes from, per community: the "social provenance" shown with it. */
export interface Provenance {
  /** Communities whose (smoothed) approval/exposure reaches the support threshold and that do not split on the post. */
  readonly supportedBy: string[];
  /** Communities whose members on the two sides of the opinion axis approve it at clearly different rates. */
  readonly divisiveIn: string[];
  readonly components: ProvenanceComponents;
}

interface SideCounts {
  readonly approvals: number;
  readonly exposure: number;
  readonly rate: number;
}

interface GroupProvenance extends SideCounts {
  readonly group: string;
  /** Present when the evidence was split by opinion side: the counts of the members whose exposure is observed. */
  readonly sides?: { readonly negative: SideCounts; readonly positive: SideCounts };
}

interface ProvenanceComponents {
  readonly groups: GroupProvenance[];
  readonly gic?: number;
  readonly geoMean?: number;
  readonly eligible?: boolean;
  readonly intercept?: number;
  readonly factor?: number;
  /** Where the axis is centred between its two sides: the score is `intercept + midpoint · factor`. */
  readonly midpoint?: number;
}

export interface ProvenanceOptions {
  /** Smoothed approval rate `(A + a₀)/(S + s₀)` a community needs to count as support. Default 0.5. */
  supportThreshold: number;
  /** Exposure from which a community is judged by its smoothed rate alone. Default 5. */
  minExposure: number;
  /**
   * With less exposure, a community is judged once its evidence decides: when the lower bound of
   * its approval (Wilson's, at `decisiveZ` standard deviations, on the counts with the prior
   * added) reaches `supportThreshold`. Default 1.2816 (90 % one-sided), the bound by which the
   * consensus ranks thin evidence: three approvals of three exposures decide, two of two do not.
   */
  decisiveZ: number;
  /** Difference in smoothed approval rate between the two sides that makes a community divided. Default 0.3. */
  divisiveGap: number;
  /** Exposure each side needs before a community can be called divided. Default 3. */
  minSideExposure: number;
  prior: { approvals: number; exposure: number };
}

const DEFAULT_PROVENANCE_OPTIONS: Readonly<ProvenanceOptions> = Object.freeze({
  supportThreshold: 0.5,
  minExposure: 5,
  decisiveZ: 1.2816,
  divisiveGap: 0.3,
  minSideExposure: 3,
  prior: { approvals: 1, exposure: 2 },
});

/**
 * Explains one post from the per-(post, group) evidence; `consensus` and `model` add the scores,
 * and `axis`, when the post ranks by its side-balanced intercept, the midpoint that centres it.
 * @NOTE a divided community is not listed as support even when its overall rate is high: "popular
 * in A, divisive in B" must not also claim B.
 */
export function provenance(
  evidence: GroupEvidence,
  membership: GroupMembership,
  post: number,
  options: Partial<ProvenanceOptions> = {},
  scores: { consensus?: GroupConsensus; model?: FactorModel; axis?: OpinionAxis } = {},
): Provenance {
  const o = { ...DEFAULT_PROVENANCE_OPTIONS, ...options };
  const rate = (a: number, s: number): number => (a + o.prior.approvals) / (s + o.prior.exposure);
  const groups: GroupProvenance[] = [];
  const supportedBy: string[] = [];
  const divisiveIn: string[] = [];
  for (let e = evidence.postOffsets[post]!; e < evidence.postOffsets[post + 1]!; e++) {
    const name = groupName(membership, evidence.group[e]!);
    const approvals = evidence.approvals[e]!;
    const exposure = evidence.exposure[e]!;
    const entry: GroupProvenance = { group: name, approvals, exposure, rate: rate(approvals, exposure) };
    let divided = false;
    if (evidence.sideApprovals && evidence.sideExposure) {
      const neg = { approvals: evidence.sideApprovals[2 * e]!, exposure: evidence.sideExposure[2 * e]! };
      const pos = { approvals: evidence.sideApprovals[2 * e + 1]!, exposure: evidence.sideExposure[2 * e + 1]! };
      const negative = { ...neg, rate: rate(neg.approvals, neg.exposure) };
      const positive = { ...pos, rate: rate(pos.approvals, pos.exposure) };
      groups.push({ ...entry, sides: { negative, positive } });
      divided =
        neg.exposure >= o.minSideExposure &&
        pos.exposure >= o.minSideExposure &&
        Math.abs(positive.rate - negative.rate) >= o.divisiveGap;
    } else {
      groups.push(entry);
    }
    // @NOTE Without the bound, a post the bridging feed ranks on thin but unanimous evidence (3 of 3,
    // 4 of 4 and 5 of 5 in three communities) was said to be supported by one community alone.
    const decided = exposure >= o.minExposure || wilsonLowerBound(approvals + o.prior.approvals, exposure + o.prior.exposure, o.decisiveZ) >= o.supportThreshold;
    if (!decided) continue;
    if (divided) divisiveIn.push(name);
    else if (entry.rate >= o.supportThreshold) supportedBy.push(name);
  }
  const { consensus, model, axis } = scores;
  const components: ProvenanceComponents = {
    groups,
    ...(consensus && {
      gic: consensus.gic[post]!,
      geoMean: consensus.geoMean[post]!,
      eligible: consensus.eligible[post] === 1,
    }),
    ...(model && { intercept: model.postIntercept[post]!, factor: model.postFactor[post * model.dimensions + (axis?.dimension ?? 0)]! }),
    ...(model && axis && { midpoint: axis.midpoint }),
  };
  return { supportedBy, divisiveIn, components };
}

/** The `feedContext` limit of `app.bsky.feed.getFeedSkeleton` (lexicon lengths count UTF-8 bytes). */
export const FEED_CONTEXT_MAX_BYTES = 2000;

/**
 * Compact, versioned JSON for `feedContext`: `{"v":1,"b":["A","B"],"d":["C"]}` — b = supported by,
 * d = divisive in. The client hands `feedContext` back untouched with `sendInteractions`, so it is
 * for machines (the feed generator learns which provenance a reaction answered), hence JSON rather than
 * prose. If the names do not fit in `maxBytes`, trailing names are dropped and `"+"` counts them.
 */
export function provenanceContext(p: Pick<Provenance, 'supportedBy' | 'divisiveIn'>, maxBytes = FEED_CONTEXT_MAX_BYTES): string {
  const b = [...p.supportedBy];
  const d = [...p.divisiveIn];
  let dropped = 0;
  for (;;) {
    const text = JSON.stringify(dropped > 0 ? { v: 1, b, d, '+': dropped } : { v: 1, b, d });
    if (utf8Length(text) <= maxBytes || (b.length === 0 && d.length === 0)) return text;
    if (d.length >= b.length) d.pop();
    else b.pop();
    dropped++;
  }
}

/**
 * The `feedContext` statements were served with before each conversation had one of its own
 * (`conversationVoteContext`): a client may still hand it back, and a vote with it counts in every
 * conversation the statement belongs to, as it did.
 */
export const VOTE_CONTEXT = '{"v":1,"vote":1}';
const VOTE_PREFIX = '{"v":1,"vote":';

/**
 * The `feedContext` of a conversation's statements as its deliberation feed (`feed`, its short
 * name) serves them: what the client hands back with a `requestLess` or `interactionSeen` on one
 * says it is a vote there (disagree, pass), in that conversation and no other, not a viewer's
 * preference for their other feeds.
 */
export function conversationVoteContext(feed: string): string {
  return `${VOTE_PREFIX}${JSON.stringify(feed)}}`;
}

/**
 * How a `requestLess` or `interactionSeen` stands to a conversation, by the `feedContext` it came
 * with: served for voting (`vote`), served by another of our feeds (`elsewhere`: it is no vote), or
 * without a context (`unknown`: a client that hands none back, counted as a vote as before).
 */
export function voteContext(feedContext: string | null | undefined): 'vote' | 'elsewhere' | 'unknown' {
  if (!feedContext) return 'unknown';
  return conversationOfVote(feedContext) === undefined ? 'elsewhere' : 'vote';
}

/** The conversation (its feed's short name) a vote's `feedContext` names; '' for the context of every conversation (`VOTE_CONTEXT`); undefined for no vote's. */
export function conversationOfVote(feedContext: string | null | undefined): string | undefined {
  if (!feedContext?.startsWith(VOTE_PREFIX)) return undefined;
  if (feedContext === VOTE_CONTEXT) return '';
  try {
    const value = JSON.parse(feedContext) as { v?: unknown; vote?: unknown };
    return typeof value.vote === 'string' && value.vote !== '' ? value.vote : undefined;
  } catch {
    return undefined;
  }
}

/** Communities a `feedContext` names as support, each a short string; none when it is not ours or not valid. */
export function supportInContext(feedContext: string | null | undefined): string[] {
  if (!feedContext || !feedContext.startsWith('{"v":1')) return [];
  try {
    const value = JSON.parse(feedContext) as { b?: unknown };
    if (!Array.isArray(value.b)) return [];
    return value.b.filter((name): name is string => typeof name === 'string' && name.length <= 200).slice(0, 50);
  } catch {
    return [];
  }
}

/** Human-readable form for labels and UI: "bridging in A and B · divisive in C", "popular in A". */
export function describeProvenance(p: Pick<Provenance, 'supportedBy' | 'divisiveIn'>): string {
  const parts: string[] = [];
  if (p.supportedBy.length >= 2) parts.push(`bridging in ${listing(p.supportedBy)}`);
  else if (p.supportedBy.length === 1) parts.push(`popular in ${p.supportedBy[0]}`);
  if (p.divisiveIn.length > 0) parts.push(`divisive in ${listing(p.divisiveIn)}`);
  return parts.join(' · ');
}

function listing(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
