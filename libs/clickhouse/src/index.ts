export { type ClickHouseClient, createClickHouseClient } from './clickhouse.client.js';
export { applyMigrations, migrations } from './migrations.js';
export { EventRepository } from './event.repository.js';
export { type PostRef, PostRepository, type PostSummary } from './post.repository.js';
export { CommunityRepository } from './community.repository.js';
export { FeedbackRepository } from './feedback.repository.js';
export {
  type RankedItem,
  type ScoredRow,
  ScoreRepository,
  type SnapshotInfo,
  type SnapshotItem,
  type SnapshotSummary,
} from './score.repository.js';
export { DidSetStore } from './did-set.store.js';
export { BackfillCheckpointRepository } from './backfill-checkpoint.repository.js';
export { type Removal, RemovalRepository } from './removal.repository.js';
