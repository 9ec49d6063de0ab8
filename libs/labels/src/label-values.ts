import { LABEL_VALUE } from './label.js';

/** On a post that two or more of a feed's communities support. */
export const COMMON_GROUND = 'common-ground';

/** The well-known value for automated accounts; their approvals do not count in bridging. */
export const BOT = 'bot';

const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/**
 * A community id as a label token: lower-case ASCII letters and hyphens only. Letters stay, `_`
 * and `-` become `-`, each digit becomes its English name between hyphens (`ward7` → `ward-seven`),
 * runs of hyphens collapse. Derived from the id alone, so the same community always gets the same
 * token and a label stays valid across restarts and curation edits.
 */
export function communityToken(id: string): string {
  const spelled = [...id.toLowerCase()].map((c) => (c >= '0' && c <= '9' ? `-${DIGITS[Number(c)]}-` : c === '_' ? '-' : c)).join('');
  return spelled.replace(/[^a-z-]/g, '').replace(/-+/g, '-').replace(/^-|-$/g, '');
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

export const supportedByValue = (community: string) => `supported-by-${communityToken(community)}`;
export const divisiveInValue = (community: string) => `divisive-in-${communityToken(community)}`;
export const boostedByValue = (community: string) => `boosted-by-${communityToken(community)}`;

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
