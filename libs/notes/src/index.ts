export { NotesInputError } from './errors.js';
export {
  decideStatus,
  DEFAULT_STATUS_RULES,
  type NoteRating,
  type NoteScore,
  type NotesScoring,
  type NoteStatus,
  type RaterPrior,
  scoreNotes,
  type ScoreNotesOptions,
  type StatusChange,
  type StatusRules,
  statusRules,
} from './scoring/index.js';
export { admitProposals, isMisleading, type Proposal, ratingValue } from './proposals.js';
