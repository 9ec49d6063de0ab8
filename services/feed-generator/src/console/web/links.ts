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
