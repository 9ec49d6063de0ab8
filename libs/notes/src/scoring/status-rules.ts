import { NotesInputError } from '../errors.js';
import type { NoteStatus } from './note-scoring.types.js';

/**
 * Community Notes' published status thresholds (`mf_base_scorer.py` and `note_ratings.py` at
 * twitter/communitynotes 273c895; `ranking-notes.md`), plus the side requirement the issue asks for.
 */
export interface StatusRules {
  /** A note needs this much rating weight before any status (`minRatingsNeeded`: 5). */
  minRatings: number;
  /**
   * Rating weight needed from raters on each side of the rater axis (factor < 0 and > 0) before a
   * note can be helpful. Default 2.
   * @NOTE the reference's core rule asks only for 5 ratings and |f_n| ≤ 0.5; its "net helpful
   * minimums" ask for at least 4 net helpful ratings from the minority side on high-volume notes.
   * Our communities are small, so "enough" is 2 raters (by weight) on each side: a note rated by
   * one side only can never be helpful, however high its intercept.
   */
  minRatersPerSide: number;
  /** `crhThreshold`: 0.40. */
  helpfulIntercept: number;
  /** `factorThreshold`: a helpful candidate with |f_n| above 0.5 stays needs-more-ratings. */
  maxHelpfulFactor: number;
  /** `crnhThresholdIntercept`: −0.05. */
  notHelpfulIntercept: number;
  /** `crnhThresholdNoteFactorMultiplier`: −0.8, so not helpful at i_n ≤ −0.05 − 0.8·|f_n|. */
  notHelpfulFactorMultiplier: number;
  /**
   * `inertiaDelta`: 0.01. A note that is helpful keeps that status while its intercept stays at or
   * above `helpfulIntercept − inertia` (CRH inertia): it has to fall clearly below to lose it.
   */
  inertia: number;
}

export const DEFAULT_STATUS_RULES: Readonly<StatusRules> = Object.freeze({
  minRatings: 5,
  minRatersPerSide: 2,
  helpfulIntercept: 0.4,
  maxHelpfulFactor: 0.5,
  notHelpfulIntercept: -0.05,
  notHelpfulFactorMultiplier: -0.8,
  inertia: 0.01,
});

/** What the rules look at for one note. */
export interface StatusInput {
  intercept: number;
  factor: number;
  /** Total rating weight of the note. */
  ratingWeight: number;
  raterSides: { negative: number; positive: number };
}

export interface StatusDecision {
  status: NoteStatus;
  reason: string;
}

export function statusRules(overrides: Partial<StatusRules> = {}): StatusRules {
  const rules = { ...DEFAULT_STATUS_RULES, ...overrides };
  for (const [key, value] of Object.entries(rules)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new NotesInputError(`status rule ${key} must be a finite number`);
  }
  if (rules.minRatings < 0 || rules.minRatersPerSide < 0 || rules.maxHelpfulFactor < 0 || rules.inertia < 0) {
    throw new NotesInputError('minRatings, minRatersPerSide, maxHelpfulFactor and inertia must not be negative');
  }
  return rules;
}

const fmt = (x: number): string => x.toFixed(3);

/**
 * The status of one note, in the reference's order: too few ratings → needs more ratings; low
 * intercept for its factor → not helpful; high intercept, small factor and both sides → helpful;
 * a note that was helpful stays so within the inertia band; otherwise needs more ratings.
 */
export function decideStatus(input: StatusInput, previous: NoteStatus, rules: StatusRules): StatusDecision {
  const { intercept, factor, ratingWeight, raterSides } = input;
  const magnitude = Math.abs(factor);
  if (ratingWeight < rules.minRatings) {
    return { status: 'needs-more-ratings', reason: `rating weight ${fmt(ratingWeight)} is below the ${rules.minRatings} needed for a status` };
  }
  const notHelpfulBelow = rules.notHelpfulIntercept + rules.notHelpfulFactorMultiplier * magnitude;
  if (intercept <= notHelpfulBelow) {
    return { status: 'not-helpful', reason: `intercept ${fmt(intercept)} ≤ ${fmt(notHelpfulBelow)} (${rules.notHelpfulIntercept} ${rules.notHelpfulFactorMultiplier} × |factor| ${fmt(magnitude)})` };
  }
  const wasHelpful = previous === 'helpful';
  const threshold = wasHelpful ? rules.helpfulIntercept - rules.inertia : rules.helpfulIntercept;
  const sides = `${fmt(raterSides.negative)} negative, ${fmt(raterSides.positive)} positive`;
  if (intercept < threshold) {
    const band = wasHelpful ? ` (${rules.helpfulIntercept} less the inertia ${rules.inertia}, which a helpful note must fall below to lose its status)` : '';
    return { status: 'needs-more-ratings', reason: `intercept ${fmt(intercept)} < ${fmt(threshold)}${band}` };
  }
  if (magnitude > rules.maxHelpfulFactor) {
    return { status: 'needs-more-ratings', reason: `intercept ${fmt(intercept)} is high but |factor| ${fmt(magnitude)} > ${rules.maxHelpfulFactor}: support from one side of the axis` };
  }
  if (raterSides.negative < rules.minRatersPerSide || raterSides.positive < rules.minRatersPerSide) {
    return { status: 'needs-more-ratings', reason: `intercept ${fmt(intercept)} is high but rater weight per side (${sides}) is below ${rules.minRatersPerSide} on a side` };
  }
  const inertia = wasHelpful && intercept < rules.helpfulIntercept ? `, kept by inertia (≥ ${fmt(threshold)})` : '';
  return { status: 'helpful', reason: `intercept ${fmt(intercept)} ≥ ${rules.helpfulIntercept}${inertia}, |factor| ${fmt(magnitude)} ≤ ${rules.maxHelpfulFactor}, raters on both sides (${sides})` };
}
