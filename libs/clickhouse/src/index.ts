export { type ClickHouseClient, createClickHouseClient, rowCountOf, untilReleased } from './clickhouse.client.js';
export { clickHouseErrorCode, ClickHouseUnavailableError, isRowError } from './clickhouse.errors.js';
export { applyMigrations, type MigrationOptions, migrations } from './migrations.js';
export { EventRepository } from './event.repository.js';
export { type PostRef, PostRepository, type PostSummary } from './post.repository.js';
export { CommunityRepository, CommunityTooLargeError, DEFAULT_MAX_COMMUNITY_MEMBERS } from './community.repository.js';
export { FeedbackRepository, type ViewerHistory } from './feedback.repository.js';
export {
  type RankedItem,
  type ScoredRow,
  ScoreRepository,
  type SnapshotInfo,
  type SnapshotItem,
  type SnapshotPart,
  type SnapshotSummary,
} from './score.repository.js';
export { DidSetStore } from './did-set.store.js';
export { type CurationSource, type CurationVersion, CurationVersionRepository } from './curation-version.repository.js';
export { type EditionItem, EditionRepository, type EditionSummary } from './edition.repository.js';
export { ConversationRepository, MAX_STATEMENTS, type StatementSource } from './conversation.repository.js';
export { type FundAllocation, type FundEpochEntry, type FundPostEntry, type FundReportRows, FundRepository, type PostCharge } from './fund.repository.js';
export { BackfillCheckpointRepository } from './backfill-checkpoint.repository.js';
export { type Removal, RemovalRepository } from './removal.repository.js';
export { type ExternalLabel, type FollowedLabelerStats, type LabelQuery, LabelRepository, type LabelTotals } from './label.repository.js';
export { type ClaimKind, type ClaimOutcome, RankerClaimRepository } from './ranker-claim.repository.js';
export {
  CONSOLE_REQUESTER,
  type NoteRatingRecord,
  type NoteRecord,
  NoteRepository,
  type NoteRequestRow,
  type NotesOnPost,
  type NoteStatusChangeRow,
  type NoteStatusRow,
} from './note.repository.js';
export { BackupFailedError, BackupNameError, InterruptedRestoreError, StoreBackups, type StoreBackup, StoreNotEmptyError } from './store-backups.js';
