export { NotesInputError } from './errors.js';
export {
  decideStatus,
  DEFAULT_STATUS_RULES,
  type LockstepGroups,
  lockstepGroupsSteps,
  type LockstepOptions,
  type NoteRating,
  type NoteScore,
  type NotesScoring,
  type NoteStatus,
  type RaterPrior,
  scoreNotes,
  scoreNotesSteps,
  type ScoreNotesOptions,
  type StatusChange,
  type StatusRules,
  statusRules,
  withRaterWeights,
  youngAccountWeight,
} from './scoring/index.js';
export { admitProposals, isMisleading, type Proposal, ratingValue } from './proposals.js';
