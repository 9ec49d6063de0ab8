export { type CommunityDefinition, type Curation, type FeedDefinition, type MemberSources, type Ranking } from './curation.types.js';
export { InvalidCurationError } from './curation.errors.js';
export { CommunitySchema, FeedSchema } from './curation.schema.js';
export { loadCurationFile } from './curation.loader.js';
export { CurationStore } from './curation.store.js';
