import type { ConsoleLabels } from './api.types.js';
import { formatCount, formatDuration, plural } from './format.js';
import { html } from './html.js';
import { Page, Title, useAutoRefresh, useLoad } from './page.js';
import { api } from './session.js';

function Emitted({ data }: { data: ConsoleLabels }) {
  const values = Object.entries(data.totals.inForce);
  if (!data.labeler) return html`<p>We emit no labels: set <code>LABELER_DID</code> and <code>LABELER_SIGNING_KEY</code>.</p>`;
  return html`
    <p>
      As <code>${data.labeler.did}</code>, served at <code>${data.labeler.endpoint}</code>. Last sequence number
      <strong data-last-seq>${formatCount(data.totals.lastSeq)}</strong>${data.totals.historyFloor > 0
        ? html`; history kept from ${formatCount(data.totals.historyFloor)}`
        : ''}.
    </p>
    ${values.length === 0
      ? html`<p>No label is in force yet.</p>`
      : html`<table>
          <caption>${plural(values.length, 'label value', 'label values')} in force</caption>
          <thead><tr><th scope="col">Value</th><th scope="col" class="num">Posts</th></tr></thead>
          <tbody>
            ${values.map(([value, count]) => html`<tr key=${value}><th scope="row"><code>${value}</code></th><td class="num">${formatCount(count)}</td></tr>`)}
          </tbody>
        </table>`}
  `;
}

function Followed({ data, now }: { data: ConsoleLabels; now: number }) {
  if (data.followed.length === 0) return html`<p>We follow no labeler: name labeler DIDs in <code>LABELERS_SUBSCRIBE</code>.</p>`;
  return html`<table>
    <caption>${plural(data.followed.length, 'labeler', 'labelers')} followed</caption>
    <thead>
      <tr>
        <th scope="col">Labeler</th>
        <th scope="col" class="num">Cursor</th>
        <th scope="col" class="num">Labels in force</th>
        <th scope="col" class="num">Newest label</th>
        <th scope="col" class="num">Rejected signatures</th>
      </tr>
    </thead>
    <tbody>
      ${data.followed.map(
        (labeler) => html`<tr key=${labeler.src} data-labeler=${labeler.src}>
          <th scope="row"><code>${labeler.src}</code></th>
          <td class="num">${labeler.cursor === null ? 'not started' : formatCount(labeler.cursor)}</td>
          <td class="num">${formatCount(labeler.inForce)} of ${formatCount(labeler.stored)}</td>
          <td class="num">${labeler.newestLabelAt ? `${formatDuration((now - Date.parse(labeler.newestLabelAt)) / 1000)} ago` : 'none yet'}</td>
          <td class="num" data-rejected>${formatCount(labeler.rejected)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** The labels panel: what we emit (values in force, last sequence) and the labelers we follow (lag, rejected signatures). */
export function LabelsView() {
  const loaded = useLoad(() => api<ConsoleLabels>('/api/admin/console/labels'));
  useAutoRefresh(loaded, 10_000);
  return html`<${Page} title="Labels" loaded=${loaded}>${(data: ConsoleLabels) => html`
    <${Title}>Labels<//>
    <p class="lead">The labels we sign from each feed's provenance, and the labels of other labelers that feeds exclude or downrank by.</p>
    <h2>What we label</h2>
    <${Emitted} data=${data} />
    <h2>Labelers we follow</h2>
    <${Followed} data=${data} now=${Date.now()} />
  `}<//>`;
}
