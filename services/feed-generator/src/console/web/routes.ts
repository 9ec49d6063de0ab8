import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { CommunitiesView } from './communities.view.js';
import { CommunityFormView } from './community-form.view.js';
import { EditionsView } from './editions.view.js';
import { FeedFormView } from './feed-form.view.js';
import { FeedPreviewView } from './feed-preview.view.js';
import { FeedsView } from './feeds.view.js';
import { FundFormView } from './fund-form.view.js';
import { FundsView } from './funds.view.js';
import { HealthView } from './health.view.js';
import { LabelsView } from './labels.view.js';
import { NotesView } from './notes.view.js';
import { decodedParam } from './route-param.js';

export interface Route {
  view: ComponentType<{ param: string | null }>;
  /** The decoded path segment the pattern captured (a community id, a feed's short name). */
  param: string | null;
  /** The nav section the view belongs to, as its link: `#/feeds`. */
  section: string;
}

const ROUTES: [pattern: RegExp, view: Route['view']][] = [
  [/^#\/health$/, HealthView],
  [/^#\/communities$/, CommunitiesView],
  [/^#\/communities\/new$/, CommunityFormView],
  [/^#\/communities\/([^/]+)\/edit$/, CommunityFormView],
  [/^#\/feeds$/, FeedsView],
  [/^#\/feeds\/new$/, FeedFormView],
  [/^#\/feeds\/([^/]+)\/edit$/, FeedFormView],
  [/^#\/feeds\/([^/]+)\/editions$/, EditionsView],
  [/^#\/feeds\/([^/]+)$/, FeedPreviewView],
  [/^#\/funds$/, FundsView],
  [/^#\/funds\/new$/, FundFormView],
  [/^#\/funds\/([^/]+)\/edit$/, FundFormView],
  [/^#\/labels$/, LabelsView],
  [/^#\/notes$/, NotesView],
];

/** The view for a location hash (`#/feeds/common`), or undefined for none. */
export function routeOf(hash: string): Route | undefined {
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(hash);
    if (!match) continue;
    const param = match[1] === undefined ? null : decodedParam(match[1]);
    return param === undefined ? undefined : { view, param, section: `#/${hash.split('/')[1]}` };
  }
  return undefined;
}


/** The location hash, following navigation. */
export function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}
