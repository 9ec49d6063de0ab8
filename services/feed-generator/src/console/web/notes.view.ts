import { useState } from 'preact/hooks';
import { announce } from './announce.js';
import type { ConsoleNotes } from './api.types.js';
import { Field, FormError } from './components.js';
import { formatCount, formatTime, plural } from './format.js';
import { html } from './html.js';
import { Page, Title, useAutoRefresh, useLoad } from './page.js';
import { api, ApiError } from './session.js';

const STATUS_NAMES: Readonly<Record<string, string>> = {
  helpful: 'helpful',
  'needs-more-ratings': 'needs more ratings',
  'not-helpful': 'not helpful',
};
const statusName = (status: string) => STATUS_NAMES[status] ?? status;
const notesPage = (post: string) => `/notes?post=${encodeURIComponent(post)}`;

function Requested({ data }: { data: ConsoleNotes }) {
  if (data.requested.length === 0) return html`<p>No post waits for a note.</p>`;
  return html`<table>
    <caption>${plural(data.requested.length, 'post', 'posts')} waiting for note writers, the most asked for first</caption>
    <thead><tr><th scope="col">Post</th><th scope="col" class="num">Requests</th><th scope="col">First asked</th><th scope="col" class="num">Notes</th></tr></thead>
    <tbody>
      ${data.requested.map(
        (row) => html`<tr key=${row.post} data-requested=${row.post}>
          <th scope="row"><a href=${notesPage(row.post)}><code>${row.post}</code></a></th>
          <td class="num">${formatCount(row.requests)}</td>
          <td>${formatTime(row.firstRequestedMs)}</td>
          <td class="num">${formatCount(row.notes)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function Changes({ data }: { data: ConsoleNotes }) {
  if (data.changes.length === 0) return html`<p>No note has changed status yet.</p>`;
  return html`<table>
    <caption>The latest ${plural(data.changes.length, 'status change', 'status changes')}, newest first</caption>
    <thead><tr><th scope="col">When</th><th scope="col">Post</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Why</th></tr></thead>
    <tbody>
      ${data.changes.map(
        (change) => html`<tr key=${`${change.note} ${change.atMs}`}>
          <td>${formatTime(change.atMs)}</td>
          <th scope="row"><a href=${notesPage(change.post)}><code>${change.post}</code></a></th>
          <td>${statusName(change.from)}</td>
          <td>${statusName(change.to)}</td>
          <td>${change.reason}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** Asks for a note on a post: the post joins the queue note writers see. */
function RequestForm({ onDone }: { onDone: () => void }) {
  const [post, setPost] = useState('');
  const [error, setError] = useState<string | null>(null);
  const onSubmit = async (event: SubmitEvent) => {
    event.preventDefault();
    setError(null);
    try {
      await api('/api/admin/notes/requests', { method: 'POST', body: { post: post.trim() } });
      announce(`Asked for a note on ${post.trim()}.`);
      setPost('');
      onDone();
    } catch (failure) {
      if (!(failure instanceof ApiError && failure.status === 401)) setError((failure as Error).message);
    }
  };
  return html`<form class="stack" novalidate onSubmit=${onSubmit}>
    <${FormError} message=${error} />
    <${Field} id="note-request-post" label="Post" hint="The at:// URI of the post that needs context">
      <input id="note-request-post" name="post" type="text" required autocomplete="off" aria-describedby="note-request-post-hint" value=${post}
        onInput=${(event: Event) => setPost((event.currentTarget as HTMLInputElement).value)} />
    <//>
    <div><button type="submit">Ask for a note</button></div>
  </form>`;
}

/** Context notes: how many are helpful, their latest status changes, and the posts waiting for a note. */
export function NotesView() {
  const loaded = useLoad(() => api<ConsoleNotes>('/api/admin/console/notes'));
  useAutoRefresh(loaded, 10_000);
  return html`<${Page} title="Notes" loaded=${loaded}>${(data: ConsoleNotes) => html`
    <${Title}>Context notes<//>
    <p class="lead">
      Notes proposed on posts (<code>org.opencommunitynotes.label</code> records) and rated by readers; a note is helpful when raters on
      both sides of the divide find it so, and is then served as the <code>readers-added-context</code> label.
    </p>
    <p data-note-counts>
      <strong>${formatCount(data.helpful)}</strong> helpful, ${formatCount(data.needsMoreRatings)} need more ratings,
      ${formatCount(data.notHelpful)} not helpful.
    </p>
    <h2>Posts waiting for a note</h2>
    <${Requested} data=${data} />
    <${RequestForm} onDone=${loaded.reload} />
    <h2>Status changes</h2>
    <${Changes} data=${data} />
  `}<//>`;
}
