import { BOT } from '#lib/labels';
import type { CandidatePost, RankingInput } from './ranking.js';
/** Signals of an account labelled `bot` that are left out: its approvals. Exposure and feedback stay. */
const BOT_DISCOUNTED_KINDS: ReadonlySet<string> = new Set(['like', 'repost', 'quote']);

/** The labels on a post and on its author, from the labelers we follow. */
function labelsOn(input: RankingInput, post: CandidatePost): Set<string> {
  const found = new Set<string>();
  for (const value of input.labels?.posts.get(post.uri) ?? []) found.add(value);
  for (const value of input.labels?.accounts.get(post.author) ?? []) found.add(value);
  return found;
}

/** The feed's `exclude` values a post (or its author) carries; none means it may rank. */
export function excludingLabels(input: RankingInput, post: CandidatePost): string[] {
  const exclude = input.feed.labels?.exclude ?? [];
  if (exclude.length === 0 || !input.labels) return [];
  const on = labelsOn(input, post);
  return exclude.filter((value) => on.has(value));
}

/** Whether a signal of `actor` of this kind is left out because the actor is labelled `bot`. */
export function isDiscountedBotSignal(input: RankingInput, actor: string, kind: string): boolean {
  return BOT_DISCOUNTED_KINDS.has(kind) && (input.labels?.accounts.get(actor)?.has(BOT) ?? false);
}

/** What labels did to a post's score: the feed's `downrank` values it carries and the factor applied. */
export interface LabelEffect {
  downrankedBy: string[];
  factor: number;
}

/**
 * The score after the feed's `downrank`: a positive score is multiplied by the factor, a negative
 * one divided by it, so a labelled post always moves down. Unchanged (no effect) without a match.
 */
export function downranked(input: RankingInput, post: CandidatePost, score: number): { score: number; effect?: LabelEffect } {
  const rule = input.feed.labels?.downrank;
  if (!rule || !input.labels) return { score };
  const on = labelsOn(input, post);
  const matched = rule.labels.filter((value) => on.has(value));
  if (matched.length === 0) return { score };
  return { score: score >= 0 ? score * rule.factor : score / rule.factor, effect: { downrankedBy: matched, factor: rule.factor } };
}
