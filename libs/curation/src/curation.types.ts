import type { FundDefinition } from './fund.schema.js';
import type { FeedLabelRules } from './feed-labels.schema.js';

/** What curators define, without code: communities (who belongs) and feeds (what they show). */

import type { DeliberationDefinition } from './deliberation.schema.js';
import type { DigestDefinition } from './digest.schema.js';

export const Rankings = ['recent', 'bridging', 'bridging-within', 'balanced', 'digest', 'deliberation'] as const;
export type Ranking = (typeof Rankings)[number];

export interface MemberSources {
  /** Accounts named directly. */
  dids: string[];
  /**
   * Handles: members once the handle's domain names a DID whose DID document names the handle
   * back (never from the firehose's identity events, where any DID can claim any handle).
   */
  handles: string[];
  /** AT-URIs of `app.bsky.graph.list` records: members follow the list live. */
  lists: string[];
  /** AT-URIs of `app.bsky.graph.starterpack` records: members are the pack's list. */
  starterPacks: string[];
  /** Authors who used one of these hashtags (lower case, without '#') within the feed window. */
  hashtags: string[];
  /** Accounts that follow one of these seed accounts. */
  followersOf: string[];
  /** Never members, whatever the other sources say. */
  exclude: string[];
}

export interface CommunityDefinition {
  id: string;
  name: string;
  description: string;
  members: MemberSources;
  /**
   * The curator accepts that anyone can make themselves a member (through `hashtags` or
   * `followersOf`); only then may a `membersOnly` feed use this community.
   */
  allowSelfEnrolment: boolean;
}

export interface FeedDefinition {
  /** Record key of the `app.bsky.feed.generator` record; the feed's short name. */
  shortname: string;
  displayName: string;
  description: string;
  communities: string[];
  ranking: Ranking;
  /**
   * Served only to viewers whose verified DID belongs to one of the feed's communities; refused
   * over a self-enrolling community unless it sets `allowSelfEnrolment`.
   */
  membersOnly: boolean;
  includeReplies: boolean;
  /** Posts older than this are not ranked. */
  windowHours: number;
  /** Score halves every this many hours (bridging rankings). */
  halfLifeHours: number;
  /** Share of the top of the feed per side for `balanced`; equal when absent. */
  balance: 'equal' | Record<string, number>;
  /** Cadence, size, base ranking and end card of a `digest` feed (required there, refused elsewhere). */
  digest?: DigestDefinition;
  /** The conversation a `deliberation` feed serves statements of (required there, refused elsewhere). */
  deliberation?: DeliberationDefinition;
  /** Values from the labelers we follow that remove posts (`exclude`) or scale their scores (`downrank`). */
  labels?: FeedLabelRules;
}

export interface Curation {
  communities: Map<string, CommunityDefinition>;
  feeds: Map<string, FeedDefinition>;
  /** Bridge Funds by community id (`fund.schema.ts`). */
  funds: Map<string, FundDefinition>;
}
