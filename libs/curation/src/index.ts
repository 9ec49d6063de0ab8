export { type CommunityDefinition, type Curation, type FeedDefinition, type MemberSources, type Ranking } from './curation.types.js';
export { InvalidCurationError } from './curation.errors.js';
export { CommunitySchema, FeedSchema } from './curation.schema.js';
export { loadCurationFile, parseCuration } from './curation.loader.js';
export { CurationStore, type CurationSnapshot } from './curation.store.js';
export { type DigestDefinition, DigestBases, type Weekday, Weekdays } from './digest.schema.js';
export { type DeliberationDefinition } from './deliberation.schema.js';
export { type FundDefinition } from './fund.schema.js';
export { type FeedLabelRules } from './feed-labels.schema.js';
