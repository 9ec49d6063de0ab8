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
export { type ExternalLabel, type FollowedLabelerStats, type LabelQuery, LabelRepository, type LabelTotals } from './label.repository.js';
