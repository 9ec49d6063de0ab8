import type { ConsoleOverview, Curation, FeedFreshness } from './api.types.js';
import { CurationProblem, Notice } from './components.js';
import { formatDuration, plural } from './format.js';
import { html } from './html.js';
import { feedEditHref, feedHref } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api } from './session.js';

interface Loaded {
  curation: Curation;
  freshness: Map<string, FeedFreshness>;
}

function Feeds({ curation, freshness }: Loaded) {
  const { feeds } = curation;
  return html`
    <${Title}>Feeds<//>
    <p class="lead">What each feed shows, and why. Open a preview to see the posts with their provenance and score components.</p>
    <${Notice} />
    <${CurationProblem} curation=${curation} />
    <div class="actions"><a class="button" href="#/feeds/new">New feed</a></div>
    ${feeds.length === 0
      ? html`<p>No feeds yet.</p>`
      : html`<table>
          <caption>${plural(feeds.length, 'feed', 'feeds')}</caption>
          <thead>
            <tr>
              <th scope="col">Feed</th>
              <th scope="col">Ranking</th>
              <th scope="col">Communities</th>
              <th scope="col">Audience</th>
              <th scope="col" class="num">Snapshot age</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${feeds.map((feed) => {
              const fresh = freshness.get(feed.shortname);
              return html`<tr key=${feed.shortname}>
                <th scope="row"><a href=${feedHref(feed.shortname)}>${feed.displayName}</a><br /><code class="hint">${feed.shortname}</code></th>
                <td>${feed.ranking}</td>
                <td>${feed.communities.join(', ')}</td>
                <td>${feed.membersOnly ? 'members only' : 'everyone'}</td>
                <td class="num">${feed.ranking === 'recent' ? 'live' : fresh ? formatDuration(fresh.ageSeconds) : '—'}</td>
                <td>
                  <a href=${feedHref(feed.shortname)} aria-label=${`Preview ${feed.displayName}`}>Preview</a> ·${' '}
                  <a href=${feedEditHref(feed.shortname)} aria-label=${`Edit ${feed.displayName}`}>Edit</a>
                </td>
              </tr>`;
            })}
          </tbody>
        </table>`}
  `;
}

/** The feeds: ranking, communities, audience and the age of each one's snapshot. */
export function FeedsView() {
  const loaded = useLoad(async (): Promise<Loaded> => {
    const [curation, overview] = await Promise.all([api<Curation>('/api/admin/curation'), api<ConsoleOverview>('/api/admin/console/overview')]);
    return { curation, freshness: new Map(overview.readiness.snapshot.feeds.map((feed) => [feed.shortname, feed])) };
  });
  return html`<${Page} title="Feeds" loaded=${loaded}>${(data: Loaded) => html`<${Feeds} ...${data} />`}<//>`;
}
