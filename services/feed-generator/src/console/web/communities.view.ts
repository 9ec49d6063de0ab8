import type { Community, CommunityMembers, Curation, MemberSources } from './api.types.js';
import { CurationProblem, Notice } from './components.js';
import { formatCount, plural } from './format.js';
import { html } from './html.js';
import { communityEditHref, feedHref } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api } from './session.js';

function sourcesSummary(members: MemberSources): string {
  const parts: string[] = [];
  if (members.dids.length) parts.push(plural(members.dids.length, 'account', 'accounts'));
  if (members.handles.length) parts.push(plural(members.handles.length, 'handle', 'handles'));
  if (members.lists.length) parts.push(plural(members.lists.length, 'list', 'lists'));
  if (members.starterPacks.length) parts.push(plural(members.starterPacks.length, 'starter pack', 'starter packs'));
  if (members.hashtags.length) parts.push(`hashtags: ${members.hashtags.map((tag) => `#${tag}`).join(', ')}`);
  if (members.followersOf.length) parts.push(`followers of ${plural(members.followersOf.length, 'account', 'accounts')}`);
  if (members.exclude.length) parts.push(plural(members.exclude.length, 'exclusion', 'exclusions'));
  return parts.join(' · ') || 'no sources';
}

/** The number of members now, resolved by the server from every source; asked per row, after the table shows. */
function MemberCount({ id }: { id: string }) {
  const members = useLoad(() => api<CommunityMembers>(`/api/admin/communities/${encodeURIComponent(id)}/members`), id);
  if (members.data?.tooLarge) return html`<td class="num" data-members=${id}><strong>too many: counted as none</strong><br /><span class="hint">${members.data.tooLarge}</span></td>`;
  const text = members.data ? formatCount(members.data.count) : members.error ? 'unavailable' : '…';
  return html`<td class="num" data-members=${id}>${text}</td>`;
}

function CommunityRow({ community, curation }: { community: Community; curation: Curation }) {
  const feeds = curation.feeds.filter((feed) => feed.communities.includes(community.id));
  const name = community.name || community.id;
  return html`<tr>
    <th scope="row">${name}<br /><code class="hint">${community.id}</code></th>
    <${MemberCount} id=${community.id} />
    <td>${sourcesSummary(community.members)}</td>
    <td>
      ${feeds.length
        ? feeds.map((feed, index) => html`${index ? ', ' : ''}<a href=${feedHref(feed.shortname)}>${feed.shortname}</a>`)
        : 'none'}
    </td>
    <td><a href=${communityEditHref(community.id)} aria-label=${`Edit ${name}`}>Edit</a></td>
  </tr>`;
}

function Communities({ curation }: { curation: Curation }) {
  const { communities } = curation;
  return html`
    <${Title}>Communities<//>
    <p class="lead">Who belongs, and from which sources. Curation file: ${curation.file}</p>
    <${Notice} />
    <${CurationProblem} curation=${curation} />
    <div class="actions"><a class="button" href="#/communities/new">New community</a></div>
    ${communities.length === 0
      ? html`<p>No communities yet.</p>`
      : html`<table>
          <caption>${plural(communities.length, 'community', 'communities')}</caption>
          <thead>
            <tr>
              <th scope="col">Community</th>
              <th scope="col" class="num">Members</th>
              <th scope="col">Sources</th>
              <th scope="col">Feeds</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${communities.map((community) => html`<${CommunityRow} key=${community.id} community=${community} curation=${curation} />`)}
          </tbody>
        </table>`}
  `;
}

/** Communities with their member counts, sources and the feeds that name them. */
export function CommunitiesView() {
  const curation = useLoad(() => api<Curation>('/api/admin/curation'));
  return html`<${Page} title="Communities" loaded=${curation}>${(data: Curation) => html`<${Communities} curation=${data} />`}<//>`;
}
