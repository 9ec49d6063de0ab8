export type { NoteRating, NoteScore, NotesScoring, NoteStatus, RaterPrior, StatusChange } from './note-scoring.types.js';
export { scoreNotes, scoreNotesSteps, type ScoreNotesOptions } from './score-notes.js';
export { decideStatus, DEFAULT_STATUS_RULES, type StatusRules, statusRules } from './status-rules.js';
export { type LockstepGroups, lockstepGroupsSteps, type LockstepOptions, withRaterWeights, youngAccountWeight } from './rating-weights.js';
