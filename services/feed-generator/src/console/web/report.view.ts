import type { ConversationView, ReportStatement } from './api.types.js';
import { bskyAppLink } from './links.js';
import { TimeSeriesChart } from './chart.js';
import { formatCount } from './format.js';
import { html } from './html.js';
import { StaleNotice, useAutoRefresh, useLoad } from './page.js';
import { loadPublicData, usePageTitle } from './public-data.js';

/** How often the report is read again while the page is visible: new votes show within this. */
const REFRESH_MS = 10_000;

const groupName = (group: number) => `Group ${String.fromCharCode(65 + group)}`;
const percent = (rate: number) => `${Math.round(rate * 100)}%`;

/** The report; a members-only one with the admin token of a curator signed in to the console in this tab. */
function loadReport(name: string): Promise<ConversationView> {
  return loadPublicData<ConversationView>(`/api/conversations/${encodeURIComponent(name)}`, {
    missing: `There is no conversation "${name}".`,
    membersOnly: 'This conversation is for its community’s members only: its curators read its report after signing in to the console in this tab.',
    what: 'The report',
  });
}

/** Each group's share that agrees, as meters with their value in words. */
function GroupAgreement({ statement }: { statement: ReportStatement }) {
  return html`<ul class="agreement">
    ${statement.groups.map(
      (line) => html`<li>
        <span class="who">${groupName(line.group)}</span>
        <meter min="0" max="1" value=${line.agreeRate} aria-hidden="true"></meter>
        <span>${percent(line.agreeRate)} agree <span class="hint">(${line.agree} of ${line.votes})</span></span>
      </li>`,
    )}
  </ul>`;
}

function Statement({ statement, texts, extra }: { statement: ReportStatement; texts: Record<string, string>; extra?: unknown }) {
  return html`<li>
    <p class="text">${texts[statement.uri] ?? '(statement no longer available)'}</p>
    ${extra}
    <${GroupAgreement} statement=${statement} />
    <p class="meta">${statement.votes} votes: ${statement.agree} agree, ${statement.disagree} disagree, ${statement.pass} pass</p>
  </li>`;
}

/** Where to vote and where to add a statement, in the Bluesky app. */
function TakePart({ view }: { view: ConversationView }) {
  const feed = bskyAppLink(view.feed);
  const root = 'root' in view.source ? bskyAppLink(view.source.root) : null;
  if (!feed) return null;
  return html`<p class="take-part">
    <a href=${feed}>Vote in the feed on Bluesky</a>.
    ${'root' in view.source
      ? root && html`${' '}Add a statement: <a href=${root}>reply to the conversation’s post</a>.`
      : html`${' '}Add a statement: post with #${view.source.hashtag}.`}
  </p>`;
}

function Report({ view }: { view: ConversationView }) {
  const { report, texts } = view;
  const about = 'root' in view.source ? 'replies to and quotes of one post' : `posts tagged #${view.source.hashtag}`;
  if (!report) {
    // Where to take part matters most before the first votes.
    return html`<h1>${view.title}</h1><${TakePart} view=${view} /><p class="notice">No report yet: the first one appears once the ranker has read the conversation.</p>`;
  }
  const series = report.participation.map((point) => ({ at: point.atMs, value: point.participants }));
  const thinCount = report.thinCount ?? report.thin.length;
  return html`
    <h1>${view.title}</h1>
    <p class="lead">A conversation on Bluesky: the statements are ${about}; a like is an agree, “show less” a disagree, a statement seen without either a pass. Votes count from ${view.participants === 'anyone' ? 'anyone' : 'members of the community only'}.</p>
    <${TakePart} view=${view} />
    <ul class="cards" aria-label="In numbers">
      <li class="card"><span class="label">Participants</span><span class="value">${formatCount(report.participants)}</span></li>
      <li class="card"><span class="label">Statements</span><span class="value">${formatCount(report.statements)}</span></li>
      <li class="card"><span class="label">Votes</span><span class="value">${formatCount(report.votes.agree + report.votes.disagree + report.votes.pass)}</span>
        <span class="hint">${formatCount(report.votes.agree)} agree · ${formatCount(report.votes.disagree)} disagree · ${formatCount(report.votes.pass)} pass</span></li>
    </ul>

    <section aria-labelledby="participation"><h2 id="participation">Participation</h2>
      <figure class="chart"><figcaption>Participants so far</figcaption>
        <${TimeSeriesChart} label="Participants" series=${series} format=${formatCount}
          description=${`Participants over time, rising to ${report.participants}`} empty="Not enough votes over time to draw yet." />
      </figure>
    </section>

    <section aria-labelledby="groups"><h2 id="groups">Opinion groups</h2>
      ${report.groups.length === 0
        ? html`<p class="notice">No opinion groups yet: too few people have voted on enough statements, or everyone votes alike.</p>`
        : html`<p>People who vote alike, found in the votes as Polis finds them.</p>
          <ul class="cards" aria-label="Opinion groups">
            ${report.groups.map((group) => html`<li class="card"><span class="label">${groupName(group.group)}</span><span class="value">${formatCount(group.size)}</span> <span class="hint">people</span></li>`)}
          </ul>`}
    </section>

    <section aria-labelledby="consensus"><h2 id="consensus">Broad consensus</h2>
      <p>${report.groups.length === 0
        ? "What everyone agrees on most, highest first (until opinion groups are found, everyone counts as one group); a statement more people reject than agree with is never listed."
        : "What the groups agree on most, highest first: each group's agreement counts (group-informed consensus), and a statement more people reject than agree with is never listed."}</p>
      ${report.consensus.length === 0 ? html`<p class="notice">None yet.</p>` : html`<ol class="statements">${report.consensus.map((s) => html`<${Statement} key=${s.uri} statement=${s} texts=${texts} />`)}</ol>`}
    </section>

    <section aria-labelledby="divisive"><h2 id="divisive">What divides</h2>
      <p>Statements most of one group agree with and most of another reject (passes aside), the widest apart first.</p>
      ${report.divisive.length === 0
        ? html`<p class="notice">None yet.</p>`
        : html`<ol class="statements">${report.divisive.map(
            (s) => html`<${Statement} key=${s.uri} statement=${s} texts=${texts} extra=${html`<p class="meta"><strong>${groupName(s.agreeingGroup)}</strong> agrees most.</p>`} />`,
          )}</ol>`}
    </section>

    <section aria-labelledby="representative"><h2 id="representative">What each group stands for</h2>
      ${report.representative.map(
        ({ group, statements }) => html`<h3>${groupName(group)}</h3>
          ${statements.length === 0 ? html`<p class="hint">Nothing this group agrees with more than the others yet.</p>` : html`<ol class="statements">${statements.map((s) => html`<${Statement} key=${s.uri} statement=${s} texts=${texts} />`)}</ol>`}`,
      )}
    </section>

    <section aria-labelledby="thin"><h2 id="thin">Still thin on evidence</h2>
      <p>${thinCount === 0 ? 'Every statement has enough votes to weigh.' : `${formatCount(thinCount)} ${thinCount === 1 ? 'statement has' : 'statements have'} fewer than 5 votes: vote on them in the feed.`}</p>
      ${report.thin.length > 0 && html`<ul class="thin">${report.thin.slice(0, 10).map((s) => html`<li>${texts[s.uri] ?? s.uri} <span class="hint">(${s.votes} votes)</span></li>`)}</ul>`}
    </section>
    <p class="hint">Updated ${new Date(report.computedAt).toLocaleString('en-GB', { timeZone: 'UTC' })} UTC; this page follows new votes by itself.</p>
  `;
}

/** A conversation's live report: what the groups agree on, what divides them, who took part. */
export function ReportView({ name }: { name: string }) {
  const loaded = useLoad(() => loadReport(name), name);
  useAutoRefresh(loaded, REFRESH_MS);
  usePageTitle(loaded.data?.title);
  if (loaded.error && !loaded.data) return html`<h1>Conversation report</h1><p class="error" role="alert">${loaded.error.message}</p>`;
  if (!loaded.data) return html`<p class="loading">Loading…</p>`;
  return html`<div aria-busy=${loaded.loading ? 'true' : undefined}>${loaded.error && html`<${StaleNotice} error=${loaded.error} />`}<${Report} view=${loaded.data} /></div>`;
}
