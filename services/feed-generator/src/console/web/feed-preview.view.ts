import { useState } from 'preact/hooks';
import { announce } from './announce.js';
import type { Explanation, FeedPreview, PreviewItem, Provenance } from './api.types.js';
import { formatCount, formatValue } from './format.js';
import { html } from './html.js';
import { bskyAppLink, feedEditHref, feedEditionsHref } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api } from './session.js';

const LIMIT_KEY = 'common-ground.preview-limit';
const LIMITS = [10, 30, 100];

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Nested evidence in one line: "negative (approvals 8.2 · exposure 8 · rate 0.92) · positive (…)". */
function compact(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(compact).join(', ');
  if (isRecord(value)) {
    return Object.entries(value)
      .map(([key, inner]) => (inner !== null && typeof inner === 'object' ? `${key} (${compact(inner)})` : `${key} ${formatValue(inner)}`))
      .join(' · ');
  }
  return formatValue(value);
}

/** Per-group evidence (approvals, exposure, rate, …) as a table: one row per group. */
function EvidenceTable({ rows }: { rows: Record<string, unknown>[] }) {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return html`<table class="evidence">
    <thead><tr>${columns.map((key) => html`<th scope="col">${key}</th>`)}</tr></thead>
    <tbody>
      ${rows.map(
        (row) => html`<tr>${columns.map((key, index) => (index === 0 ? html`<th scope="row">${compact(row[key])}</th>` : html`<td>${compact(row[key])}</td>`))}</tr>`,
      )}
    </tbody>
  </table>`;
}

/** A component's value: numbers and lists of names inline, per-group evidence as a table, other structures as JSON. */
function ComponentValue({ value }: { value: unknown }) {
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return value.length ? value.join(', ') : 'none';
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) return html`<${EvidenceTable} rows=${value} />`;
  if (value !== null && typeof value === 'object') return html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
  return formatValue(value);
}

function ComponentsTable({ components }: { components: Record<string, unknown> }) {
  const entries = Object.entries(components);
  if (entries.length === 0) return html`<p>No components recorded.</p>`;
  return html`<table class="components">
    <caption class="visually-hidden">Score components</caption>
    <tbody>
      ${entries.map(([key, value]) => html`<tr><th scope="row">${key}</th><td><${ComponentValue} value=${value} /></td></tr>`)}
    </tbody>
  </table>`;
}

function ProvenanceChips({ provenance }: { provenance: Provenance | null }) {
  if (!provenance || (provenance.supportedBy.length === 0 && provenance.divisiveIn.length === 0)) {
    return html`<p class="meta">No provenance: no community stands out for or against this post.</p>`;
  }
  return html`<ul class="chips" aria-label=${`Provenance: ${provenance.summary}`}>
    ${provenance.supportedBy.map((name) => html`<li class="chip support">supported by ${name}</li>`)}
    ${provenance.divisiveIn.map((name) => html`<li class="chip divisive">divisive in ${name}</li>`)}
    ${provenance.omitted > 0 && html`<li class="chip">+${provenance.omitted} more</li>`}
  </ul>`;
}

/** A Bridge Fund's boost, said as the explanation says it: "raised by the climate × farmers fund: …". */
function BoostChip({ components }: { components: Record<string, unknown> }) {
  const boost = components.boost;
  const says = isRecord(boost) && typeof boost.says === 'string' ? boost.says : null;
  if (says === null) return null;
  return html`<ul class="chips" aria-label="Boost"><li class="chip boost">${says}</li></ul>`;
}

/**
 * "Why here?": the components the preview holds, and — asked once, when first opened — the live
 * answer of the explanation endpoint for this post in the snapshot the preview came from. The
 * tables are made when first opened: a preview of a hundred posts shows without them.
 */
function WhyHere({ item, explainPath }: { item: PreviewItem; explainPath: string }) {
  const [explanation, setExplanation] = useState<string | null>(null);
  const onToggle = (event: Event) => {
    if (!(event.currentTarget as HTMLDetailsElement).open || explanation !== null) return;
    setExplanation('Asking the explanation endpoint…');
    void api<Explanation>(explainPath).then(
      (answer) =>
        setExplanation(
          answer.rank === null
            ? `Explanation endpoint: not ranked now. ${answer.reason ?? ''}`
            : `Explanation endpoint: rank ${answer.rank} in ${answer.edition ? `the edition of ${new Date(answer.edition).toISOString()}` : `snapshot ${answer.snapshot}`}, score ${formatValue(answer.score)}.`,
        ),
      (error: Error) => setExplanation(`The explanation endpoint did not answer: ${error.message}`),
    );
  };
  return html`<details onToggle=${onToggle}>
    <summary>Why here?${item.score === null ? '' : ` Score ${formatValue(item.score)}`}</summary>
    ${explanation !== null &&
    html`<${ComponentsTable} components=${item.components} />
      ${item.feedContext && html`<p class="meta">feedContext sent to clients: <code>${item.feedContext}</code></p>`}
      <p class="meta explanation">${explanation}</p>`}
  </details>`;
}

function Post({ item, preview }: { item: PreviewItem; preview: FeedPreview }) {
  const link = bskyAppLink(item.post);
  const explainPath =
    `/api/feeds/${encodeURIComponent(preview.feed)}/explain?post=${encodeURIComponent(item.post)}` +
    (preview.edition ? `&snapshot=e${preview.edition.id}` : preview.snapshot ? `&snapshot=${preview.snapshot.id}` : '');
  return html`<li>
    <span class="rank"><span class="visually-hidden">Rank </span>${item.rank}</span>
    <p class="text">${item.text === null ? '(text not in the store)' : item.text || '(no text)'}</p>
    <p class="meta">
      ${link && html`<a href=${link} rel="noopener noreferrer" target="_blank">View on Bluesky</a> · `}
      ${item.postedAtUs ? `posted ${new Date(item.postedAtUs / 1000).toLocaleString('en-GB')} · ` : ''}
      <code>${item.post}</code>
    </p>
    <${ProvenanceChips} provenance=${item.provenance} />
    <${BoostChip} components=${item.components} />
    <${WhyHere} item=${item} explainPath=${explainPath} />
  </li>`;
}

function Preview({ preview, loadedMs, limit, onLimit, onRefresh }: { preview: FeedPreview; loadedMs: number; limit: number; onLimit: (limit: number) => void; onRefresh: () => void }) {
  const about =
    preview.ranking === 'recent'
      ? 'Newest posts first, read live.'
      : preview.ranking === 'digest'
        ? preview.edition
          ? `The edition of ${new Date(preview.edition.id).toISOString()}: ${formatCount(preview.edition.posts)} posts, frozen ${preview.edition.frozenAt}.`
          : 'No edition yet: the ranker freezes one at the next cadence point.'
        : preview.snapshot
          ? `Snapshot ${preview.snapshot.id} of ${formatCount(preview.snapshot.posts)} ranked posts, completed ${preview.snapshot.completedAt}.`
          : 'No snapshot yet: the scoring service has not ranked this feed.';
  const { items } = preview;
  const onBluesky = bskyAppLink(preview.uri);
  return html`
    <${Title}>${preview.displayName}<//>
    <p class="lead">${preview.feed} · ${preview.ranking} · ${about}</p>
    <div class="actions">
      <label for="preview-limit">Show</label>
      <select id="preview-limit" value=${String(limit)} onChange=${(event: Event) => onLimit(Number((event.currentTarget as HTMLSelectElement).value))}>
        ${LIMITS.map((n) => html`<option value=${String(n)}>Top ${n}</option>`)}
      </select>
      <button type="button" class="secondary" onClick=${onRefresh}>Refresh</button>
      <a class="button secondary" href=${feedEditHref(preview.feed)}>Edit feed</a>
      ${preview.ranking === 'digest' && html`<a class="button secondary" href=${feedEditionsHref(preview.feed)}>Editions</a>`}
      ${onBluesky && html`<a class="button secondary" href=${onBluesky} rel="noopener noreferrer" target="_blank">Open on Bluesky</a>`}
    </div>
    ${items.length === 0
      ? html`<p class="notice">The feed is empty right now.</p>`
      : html`<ol class="preview" aria-label=${`Top ${items.length} posts of ${preview.displayName}`}>
          ${items.map((item) => html`<${Post} key=${item.post} item=${item} preview=${preview} />`)}
        </ol>`}
    <p class="hint">Loaded ${items.length} posts in ${loadedMs} ms.</p>
  `;
}

/** What a feed shows now: each post with its provenance and the score components that placed it. */
export function FeedPreviewView({ param }: { param: string | null }) {
  const shortname = param ?? '';
  const [limit, setLimit] = useState(() => Number(sessionStorage.getItem(LIMIT_KEY) ?? 30));
  const loaded = useLoad(async () => {
    const started = performance.now();
    const preview = await api<FeedPreview>(`/api/admin/feeds/${encodeURIComponent(shortname)}/preview?limit=${limit}`);
    return { preview, loadedMs: Math.round(performance.now() - started) };
  }, `${shortname} ${limit}`);
  const onLimit = (next: number) => {
    sessionStorage.setItem(LIMIT_KEY, String(next));
    setLimit(next);
  };
  const onRefresh = () => {
    loaded.reload();
    announce('Preview refreshed');
  };
  return html`<${Page} title="Feed preview" loaded=${loaded}>
    ${(data: { preview: FeedPreview; loadedMs: number }) => html`<${Preview} ...${data} limit=${limit} onLimit=${onLimit} onRefresh=${onRefresh} />`}
  <//>`;
}
