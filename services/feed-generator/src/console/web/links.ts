/** The console's locations (hash routes), as links write them. */

export const HOME = '#/health';
export const COMMUNITIES = '#/communities';
export const FEEDS = '#/feeds';
export const FUNDS = '#/funds';
export const NEW_FUND = '#/funds/new';

export const feedHref = (shortname: string) => `#/feeds/${encodeURIComponent(shortname)}`;
export const feedEditionsHref = (shortname: string) => `#/feeds/${encodeURIComponent(shortname)}/editions`;
export const feedEditHref = (shortname: string) => `#/feeds/${encodeURIComponent(shortname)}/edit`;
export const communityEditHref = (id: string) => `#/communities/${encodeURIComponent(id)}/edit`;
export const fundEditHref = (community: string) => `#/funds/${encodeURIComponent(community)}/edit`;

const BSKY_APP_PATHS: Record<string, string> = { 'app.bsky.feed.post': 'post', 'app.bsky.feed.generator': 'feed' };

/** Where the Bluesky app shows a post or a feed, from its at:// URI; null for anything else. */
export function bskyAppLink(uri: string): string | null {
  const match = /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri);
  const path = match ? BSKY_APP_PATHS[match[2]!] : undefined;
  return match && path ? `https://bsky.app/profile/${match[1]}/${path}/${match[3]}` : null;
}
