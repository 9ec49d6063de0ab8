import { createHash } from 'node:crypto';
import { Nsid, parseAtUri } from '#lib/domain';
import type { NoteView, PostNotes } from './notes.service.js';

/**
 * The page's one style sheet, inline: readable on a phone, and text from anyone (a note of 3,000
 * characters without a space, an AT-URI) wraps instead of widening the page.
 */
const STYLE =
  'body{font:1rem/1.5 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:0 1rem 2rem}' +
  'p,dd,code,td,blockquote,h1,h2,h3{overflow-wrap:anywhere}blockquote{margin:1rem 0;padding-left:1rem;border-left:3px solid #888}' +
  '.table{overflow-x:auto}table{border-collapse:collapse}th,td{padding:.25rem .5rem;text-align:left;vertical-align:top}';

/**
 * The public notes page: plain HTML rendered on the server, with no script and nothing from
 * elsewhere, so its security policy allows nothing but its own style sheet, by hash.
 */
export const NOTES_PAGE_POLICY = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const escapes: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c]!);

const STATUS_NAMES: Readonly<Record<string, string>> = {
  helpful: 'Rated helpful',
  'needs-more-ratings': 'Needs more ratings',
  'not-helpful': 'Rated not helpful',
};

const REASON_NAMES: Readonly<Record<string, string>> = {
  factual_error: 'It contains a factual error',
  altered_media: 'It contains a digitally altered photo or video',
  outdated_information: 'It contains outdated information that may be misleading',
  misrepresentation_or_missing_context: 'It is a misrepresentation or missing important context',
  unverified_claim_as_fact: 'It presents an unverified claim as a fact',
  joke_or_satire: 'It is a joke or satire that might be misinterpreted as a fact',
  other: 'Other',
};

/** " Open it in the Bluesky app." for a post's at:// URI (its DID and record key, read as such). */
function appLink(post: string): string {
  const parts = parseAtUri(post);
  if (!parts || parts.collection !== Nsid.post) return '';
  return ` <a href="https://bsky.app/profile/${escape(parts.did)}/post/${escape(parts.rkey)}">Open it in the Bluesky app</a>.`;
}

const time = (ms: number): string => {
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
};
const score = (value: number | null): string => (value === null ? '—' : value.toFixed(2));

function note(view: NoteView): string {
  return [
    '<article>',
    `<h3>${escape(STATUS_NAMES[view.status] ?? view.status)}</h3>`,
    `<p>${escape(view.text)}</p>`,
    '<dl>',
    `<dt>Why the post needs context</dt><dd>${escape(REASON_NAMES[view.reason] ?? view.reason)}</dd>`,
    `<dt>Written by</dt><dd>${escape(view.author)}, ${time(view.createdAtMs)}</dd>`,
    `<dt>Raters</dt><dd>${view.raters} (${view.raterSides.negative} on one side of the raters' axis, ${view.raterSides.positive} on the other)</dd>`,
    `<dt>Helpfulness across the divide (intercept)</dt><dd>${score(view.intercept)}</dd>`,
    `<dt>Position on the divide (factor)</dt><dd>${score(view.factor)}</dd>`,
    `<dt>Note record</dt><dd><code>${escape(view.uri)}</code></dd>`,
    '</dl>',
    '</article>',
  ].join('\n');
}

/** The page for one post: its helpful notes under "Readers added context", the others, and every status change. */
export function notesPage(notes: PostNotes, jsonHref: string): string {
  const helpful = notes.notes.filter((view) => view.status === 'helpful');
  const others = notes.notes.filter((view) => view.status !== 'helpful');
  const changes = notes.changes.map(
    (change) => `<tr><td>${time(change.atMs)}</td><td><code>${escape(change.note)}</code></td><td>${escape(STATUS_NAMES[change.from] ?? change.from)}</td><td>${escape(STATUS_NAMES[change.to] ?? change.to)}</td><td>${escape(change.reason)}</td></tr>`,
  );
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Context notes — Common Ground</title>',
    `<style>${STYLE}</style></head>`,
    '<body>',
    '<main>',
    '<h1>Context notes</h1>',
    `<p>On the post <code>${escape(notes.post)}</code>${notes.requests > 0 ? ` (${notes.requests} account${notes.requests === 1 ? '' : 's'} asked for a note)` : ''}.${appLink(notes.post)}</p>`,
    notes.text === null ? '<p>The post is not in our store.</p>' : `<blockquote><p>${escape(notes.text)}</p></blockquote>`,
    '<section aria-labelledby="helpful">',
    '<h2 id="helpful">Readers added context</h2>',
    helpful.length > 0 ? helpful.map(note).join('\n') : '<p>No note on this post is rated helpful by raters who usually disagree.</p>',
    notes.label ? `<p>Served as the label <code>${escape(notes.label.val)}</code> by <code>${escape(notes.label.src)}</code>.</p>` : '',
    '</section>',
    '<section aria-labelledby="others">',
    '<h2 id="others">Other notes</h2>',
    others.length > 0 ? others.map(note).join('\n') : '<p>None.</p>',
    notes.omitted > 0 ? `<p>${notes.omitted} more note${notes.omitted === 1 ? '' : 's'} on this post ${notes.omitted === 1 ? 'is' : 'are'} not listed: only the best ${others.length} of those not rated helpful are.</p>` : '',
    '</section>',
    '<section aria-labelledby="changes">',
    '<h2 id="changes">Status changes</h2>',
    changes.length > 0
      ? `<div class="table"><table><caption>Newest first</caption><thead><tr><th scope="col">When</th><th scope="col">Note</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Why</th></tr></thead><tbody>${changes.join('')}</tbody></table></div>`
      : '<p>None yet.</p>',
    '</section>',
    `<p><a href="${escape(jsonHref)}">The same as JSON</a></p>`,
    '</main>',
    '</body>',
    '</html>',
  ].join('\n');
}
