/** A note's status, as Community Notes names them: currently rated helpful, not helpful, or neither yet. */
export type NoteStatus = 'helpful' | 'not-helpful' | 'needs-more-ratings';

/** One rater's rating of one note: helpful 1, somewhat helpful 0.5, not helpful 0. */
export interface NoteRating {
  rater: string;
  note: string;
  value: 0 | 0.5 | 1;
  /** How much the rating counts (abuse resistance: young accounts, lock-step raters); defaults to 1. */
  weight?: number;
}

/** A rater's position on the opinion axis known from elsewhere (e.g. a member's Bluesky likes). */
export interface RaterPrior {
  rater: string;
  factor: number;
}

export interface NoteScore {
  note: string;
  /** The helpfulness the opinion axis cannot explain: Community Notes' note intercept i_n. */
  intercept: number;
  /** The note's position on the opinion axis, f_n. */
  factor: number;
  /** Distinct raters of the note (after one rating per rater per note). */
  raters: number;
  status: NoteStatus;
  /** The rating weight from raters with a negative and a positive factor (a count when every weight is 1). */
  raterSides: { negative: number; positive: number };
}

export interface StatusChange {
  note: string;
  from: NoteStatus;
  to: NoteStatus;
  reason: string;
}

export interface NotesScoring {
  notes: NoteScore[];
  raters: Map<string, { intercept: number; factor: number }>;
  changes: StatusChange[];
}
