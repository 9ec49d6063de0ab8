import type { EditionPost, Editions } from './api.types.js';
import { formatValue } from './format.js';
import { html } from './html.js';
import { feedHref } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api } from './session.js';

const when = (iso: string) => new Date(iso).toLocaleString('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';

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

/** A digest feed's editions, newest first: what the community was served, edition by edition. */
export function EditionsView({ param }: { param: string | null }) {
  const shortname = param ?? '';
  const loaded = useLoad(() => api<Editions>(`/api/feeds/${encodeURIComponent(shortname)}/editions?limit=20`), shortname);
  return html`<${Page} title="Editions" loaded=${loaded}>
    ${(data: Editions) => html`
      <${Title}>Editions of ${shortname}<//>
      <p class="lead">${cadenceText(data)} Next edition ${when(data.nextEditionAt)}.</p>
      <div class="actions"><a class="button secondary" href=${feedHref(shortname)}>Feed preview</a></div>
      ${data.editions.length === 0
        ? html`<p class="notice">No edition yet: the ranker freezes the first one at its next run.</p>`
        : data.editions.map(
            (edition) => html`<section aria-labelledby=${`edition-${edition.edition}`}>
              <h2 id=${`edition-${edition.edition}`}>${when(edition.at)}</h2>
              ${edition.posts.length === 0
                ? html`<p class="notice">This edition is empty: nothing new qualified.</p>`
                : html`<ol class="preview">${edition.posts.map((post) => html`<${EditionItem} key=${post.uri} post=${post} />`)}</ol>`}
            </section>`,
          )}
      ${data.endCard && html`<p class="hint">End card, served last in every edition: <code>${data.endCard}</code></p>`}
    `}
  <//>`;
}
