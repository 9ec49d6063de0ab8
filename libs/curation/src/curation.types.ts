/** What curators define, without code: communities (who belongs) and feeds (what they show). */
import type { z } from 'zod';
import type { CurationSchema, MemberSourcesSchema } from './curation.schema.js';

export { Rankings, type Ranking } from './curation.schema.js';

export type MemberSources = z.output<typeof MemberSourcesSchema>;
export type Curation = z.output<typeof CurationSchema>;
export type CommunityDefinition = Curation['communities'] extends Map<string, infer Community> ? Community : never;
export type FeedDefinition = Curation['feeds'] extends Map<string, infer Feed> ? Feed : never;
