import type { EditionPost, Editions } from './api.types.js';
import { formatValue } from './format.js';
import { html } from './html.js';
import { bskyAppLink, feedHref } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { loadPublicData, usePageTitle } from './public-data.js';
import { api } from './session.js';

/** A time as the digest's readers keep it: in the digest's own time zone, which is named. */
const when = (iso: string, timeZone: string) => `${new Date(iso).toLocaleString('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone })} (${timeZone})`;

function cadenceText({ cadence }: Editions): string {
  const day = cadence.day ? ` on ${cadence.day[0]!.toUpperCase()}${cadence.day.slice(1)}s` : '';
  return `${cadence.cadence === 'weekly' ? 'Weekly' : 'Daily'}${day} at ${cadence.at} (${cadence.timeZone}): the best ${cadence.size} posts of ${cadence.base} not in an earlier edition.`;
}

function EditionItem({ post }: { post: EditionPost }) {
  return html`<li>
    <span class="rank"><span class="visually-hidden">Rank </span>${post.rank}</span>
    <p class="text">${post.text === null ? '(text not in the store)' : post.text || '(no text)'}</p>
    <p class="meta"><code>${post.uri}</code> · score ${formatValue(post.score)}</p>
    ${(post.supportedBy.length > 0 || post.divisiveIn.length > 0) &&
    html`<ul class="chips" aria-label="Provenance">
      ${post.supportedBy.map((name) => html`<li class="chip support">supported by ${name}</li>`)}
      ${post.divisiveIn.map((name) => html`<li class="chip divisive">divisive in ${name}</li>`)}
    </ul>`}
  </li>`;
}

/** The editions, newest first, with the cadence they follow and the end card. */
function EditionList({ data }: { data: Editions }) {
  return html`
    <p class="lead">${cadenceText(data)} ${data.editionDue
      ? `The edition of ${when(data.nextEditionAt, data.cadence.timeZone)} is due: the ranker freezes it at its next run.`
      : `Next edition ${when(data.nextEditionAt, data.cadence.timeZone)}.`}</p>
    ${data.editions.length === 0
      ? html`<p class="notice">No edition yet.</p>`
      : data.editions.map(
          (edition) => html`<section aria-labelledby=${`edition-${edition.edition}`}>
            <h2 id=${`edition-${edition.edition}`}>${when(edition.at, data.cadence.timeZone)}</h2>
            ${edition.posts.length === 0
              ? html`<p class="notice">This edition is empty: nothing new qualified.</p>`
              : html`<ol class="preview">${edition.posts.map((post) => html`<${EditionItem} key=${post.uri} post=${post} />`)}</ol>`}
          </section>`,
        )}
    ${data.endCard && html`<p class="hint">End card, served last in every edition: <code>${data.endCard}</code></p>`}
  `;
}

const editionsPath = (shortname: string) => `/api/feeds/${encodeURIComponent(shortname)}/editions?limit=20`;

/** A digest feed's editions in the console: what the community was served, edition by edition. */
export function EditionsView({ param }: { param: string | null }) {
  const shortname = param ?? '';
  const loaded = useLoad(() => api<Editions>(editionsPath(shortname)), shortname);
  return html`<${Page} title="Editions" loaded=${loaded}>
    ${(data: Editions) => html`
      <${Title}>Editions of ${shortname}<//>
      <div class="actions">
        <a class="button secondary" href=${feedHref(shortname)}>Feed preview</a>
        <a class="button secondary" href=${`/digests/${encodeURIComponent(shortname)}`}>Public page</a>
      </div>
      <${EditionList} data=${data} />
    `}
  <//>`;
}

/**
 * A digest's public page (`/digests/<name>`): every edition the community was served, with each
 * post's text and the communities that support it, to look back at what it agreed on.
 */
export function DigestView({ name }: { name: string }) {
  const loaded = useLoad(
    () =>
      loadPublicData<Editions>(editionsPath(name), {
        missing: `There is no digest "${name}".`,
        membersOnly: 'This digest is for its community’s members only: its curators read it after signing in to the console in this tab.',
        what: 'The editions',
      }, [404, 400]),
    name,
  );
  usePageTitle(loaded.data?.displayName);
  if (loaded.error && !loaded.data) return html`<h1>Digest</h1><p class="error" role="alert">${loaded.error.message}</p>`;
  if (!loaded.data) return html`<p class="loading">Loading…</p>`;
  const feed = bskyAppLink(loaded.data.feed);
  return html`
    <h1>${loaded.data.displayName}</h1>
    ${feed && html`<p><a href=${feed}>Read it on Bluesky</a>: each edition ends once read.</p>`}
    <${EditionList} data=${loaded.data} />
  `;
}
