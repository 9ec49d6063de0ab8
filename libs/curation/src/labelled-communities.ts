import type { CommunityDefinition, Curation } from './curation.types.js';

/**
 * The communities the labeler record declares label values for: all but those that only
 * members-only feeds use. Labels come from public feeds only (a members-only feed keeps its
 * communities' context inside it), so such a community never has a label, and the public record
 * does not name it. One in no feed yet is declared, ready for the public feed it is meant for.
 */
export function labelledCommunities(curation: Curation): CommunityDefinition[] {
  const feeds = [...curation.feeds.values()];
  const inPublicFeeds = new Set(feeds.filter((feed) => !feed.membersOnly).flatMap((feed) => feed.communities));
  const inMembersOnlyFeeds = new Set(feeds.filter((feed) => feed.membersOnly).flatMap((feed) => feed.communities));
  return [...curation.communities.values()].filter((community) => inPublicFeeds.has(community.id) || !inMembersOnlyFeeds.has(community.id));
}
