import { createHash } from 'node:crypto';
import { LABEL_VALUE } from './label.js';

/** On a post that two or more of a feed's communities support. */
export const COMMON_GROUND = 'common-ground';

/** The well-known value for automated accounts; their approvals do not count in bridging. */
export const BOT = 'bot';

const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** What precedes a community's token in a label value; the longest leaves the token the least room. */
const COMMUNITY_PREFIXES = ['supported-by-', 'divisive-in-', 'boosted-by-'] as const;
/** The longest token that keeps every value within the lexicon's 100 characters (`identifier`). */
const TOKEN_MAX = 100 - Math.max(...COMMUNITY_PREFIXES.map((prefix) => prefix.length));
/** Letters of the digest that end a shortened token: 26⁸ ≈ 2·10¹¹ endings. */
const DIGEST_LETTERS = 8;

/**
 * A community id as a label token: lower-case ASCII letters and hyphens only. Letters stay, `_`
 * and `-` become `-`, each digit becomes its English name between hyphens (`ward7` → `ward-seven`),
 * runs of hyphens collapse. Derived from the id alone, so the same community always gets the same
 * token and a label stays valid across restarts and curation edits.
 *
 * @NOTE Spelled digits can make a token of a 64-character id several hundred letters long. Past
 * `TOKEN_MAX` the token is cut and ends in eight letters from the SHA-256 of the whole spelling:
 * still valid, still one per spelling, so long ids that share a beginning keep apart. The app
 * shows a value's name ("Supported by …"), never the token.
 */
export function communityToken(id: string): string {
  const spelled = [...id.toLowerCase()].map((c) => (c >= '0' && c <= '9' ? `-${DIGITS[Number(c)]}-` : c === '_' ? '-' : c)).join('');
  const token = spelled.replace(/[^a-z-]/g, '').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (token.length <= TOKEN_MAX) return token;
  const digest = [...createHash('sha256').update(token).digest().subarray(0, DIGEST_LETTERS)].map((byte) => String.fromCharCode(97 + (byte % 26))).join('');
  return `${token.slice(0, TOKEN_MAX - DIGEST_LETTERS - 1).replace(/-+$/, '')}-${digest}`;
}

/** What a ranked post says about its provenance (the rankings' `components`). */
export interface PostProvenance {
  supportedBy: readonly string[];
  divisiveIn: readonly string[];
  /** Communities whose Bridge Fund raised the post in this feed (`components.boost.funds`). */
  boostedBy?: readonly string[];
}

/** One rule turning a ranked post's provenance into label values; add a rule to add a kind of label. */
export type LabelRule = (post: PostProvenance, communities: ReadonlySet<string>) => string[];

const [SUPPORTED_BY, DIVISIVE_IN, BOOSTED_BY] = COMMUNITY_PREFIXES;
export const supportedByValue = (community: string) => `${SUPPORTED_BY}${communityToken(community)}`;
export const divisiveInValue = (community: string) => `${DIVISIVE_IN}${communityToken(community)}`;
export const boostedByValue = (community: string) => `${BOOSTED_BY}${communityToken(community)}`;

/**
 * Our label rules. Names in the provenance that are not communities (the opinion groups a
 * one-community feed is bridged across, `c/1`) give no label: a label names what curators defined.
 */
export const labelRules: readonly LabelRule[] = [
  (post, communities) => (post.supportedBy.filter((name) => communities.has(name)).length >= 2 ? [COMMON_GROUND] : []),
  (post, communities) => post.supportedBy.filter((name) => communities.has(name)).map(supportedByValue),
  (post, communities) => post.divisiveIn.filter((name) => communities.has(name)).map(divisiveInValue),
  (post, communities) => (post.boostedBy ?? []).filter((name) => communities.has(name)).map(boostedByValue),
];

/** The label values a post earns, sorted, valid tokens only. */
export function labelValues(post: PostProvenance, communities: ReadonlySet<string>, rules: readonly LabelRule[] = labelRules): string[] {
  const values = new Set(rules.flatMap((rule) => rule(post, communities)));
  return [...values].filter((value) => LABEL_VALUE.test(value)).sort();
}

/** Reads the provenance out of a ranked post's components, or nothing if it carries none. */
export function provenanceOf(components: Record<string, unknown>): PostProvenance | undefined {
  const { supportedBy, divisiveIn, boost } = components;
  const names = (value: unknown) => (Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string') : undefined);
  const b = names(supportedBy);
  const d = names(divisiveIn);
  const f = typeof boost === 'object' && boost !== null ? names((boost as { funds?: unknown }).funds) : undefined;
  return b || d || f ? { supportedBy: b ?? [], divisiveIn: d ?? [], ...(f && { boostedBy: f }) } : undefined;
}
