import type { Fund, FundReport } from './api.types.js';
import { Notice } from './components.js';
import { formatCount, formatValue } from './format.js';
import { html } from './html.js';
import { fundEditHref, NEW_FUND } from './links.js';
import { PledgeForm } from './pledge-form.view.js';
import { Page, Title, useLoad } from './page.js';
import { api } from './session.js';

/** Posts of a fund's ledger shown here; the public report lists more. */
const SHOWN_POSTS = 20;

function credits(value: number): string {
  return formatValue(Math.round(value * 100) / 100);
}

function Ledger({ report }: { report: FundReport }) {
  const refused = Object.entries(report.refusedPledges);
  return html`
    <p class="meta">
      Epoch ${report.epoch}: ${report.startsAt} to ${report.endsAt}. ${report.settledAt ? `Settled ${report.settledAt}.` : 'Not settled yet.'}
      ${' '}${credits(report.creditsPerThousandImpressions)} credits per 1,000 impressions.
      ${' '}<a href=${`/api/funds/${encodeURIComponent(report.community)}/${report.epoch}`}>Public report (JSON)</a>
    </p>
    <table class="components">
      <caption class="visually-hidden">${`Ledger of ${report.community}`}</caption>
      <tbody>
        <tr><th scope="row">Budget (floor included)</th><td class="num">${credits(report.budget)}${report.floor ? ` (floor ${credits(report.floor)})` : ''}</td></tr>
        <tr><th scope="row">Matching pool</th><td class="num">${credits(report.matchingPool)}</td></tr>
        <tr><th scope="row">Pledged · matched</th><td class="num">${credits(report.pledged)} · ${credits(report.matched)}</td></tr>
        <tr><th scope="row">Spent · remaining</th><td class="num">${credits(report.spent)} · ${credits(report.remaining)}</td></tr>
        <tr><th scope="row">Boosted impressions · reaching other communities</th><td class="num">${credits(report.impressions)} · ${credits(report.impressionsOutsideCommunity)}</td></tr>
        ${report.unpaidImpressions > 0 && html`<tr><th scope="row">Served past the budget or a post's credits (not paid)</th><td class="num">${credits(report.unpaidImpressions)}</td></tr>`}
        <tr><th scope="row">Pledges accepted · refused</th><td class="num">${formatCount(report.pledges)} · ${refused.length ? refused.map(([reason, count]) => `${count} ${reason}`).join(', ') : 'none'}</td></tr>
      </tbody>
    </table>
    ${report.posts.length > 0 &&
    html`<table>
      <caption>${`Posts, most spent first (${Math.min(SHOWN_POSTS, report.posts.length)} of ${report.posts.length})`}</caption>
      <thead><tr><th scope="col">Post</th><th scope="col" class="num">Pledged</th><th scope="col" class="num">Matched</th><th scope="col" class="num">Impressions</th><th scope="col" class="num">Other communities</th><th scope="col" class="num">Spent</th></tr></thead>
      <tbody>
        ${report.posts.slice(0, SHOWN_POSTS).map(
          (post) => html`<tr key=${post.post}>
            <th scope="row"><code>${post.post}</code></th>
            <td class="num">${credits(post.pledged)}</td>
            <td class="num">${credits(post.matched)}</td>
            <td class="num">${credits(post.impressions)}</td>
            <td class="num">${credits(post.impressionsOutsideCommunity)}</td>
            <td class="num">${credits(post.spent)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
  `;
}

function FundSection({ fund }: { fund: Fund }) {
  const report = useLoad(() => api<FundReport>(`/api/funds/${encodeURIComponent(fund.community)}/current`), fund.community);
  return html`<section aria-label=${`Fund of ${fund.community}`}>
    <h2>${fund.community}</h2>
    <p><a href=${fundEditHref(fund.community)} aria-label=${`Edit the fund of ${fund.community}`}>Edit</a></p>
    <p class="meta">
      Set to: budget ${credits(fund.budget)} and matching pool ${credits(fund.matchingPool)} per epoch (the ledger below has what this epoch’s ranking used) ·
      member allowance ${credits(fund.memberAllowance)} · page share ${Math.round(fund.pageShare * 100)}% · eligible from approval ${fund.minBridging}
      ${' '}in each funding community · ${fund.feeds.length ? `boosts in ${fund.feeds.join(', ')}` : 'boosts in every feed over the community'}
    </p>
    ${report.data ? html`<${Ledger} report=${report.data} />` : html`<p class="meta">${report.error ? `Report unavailable: ${report.error.message}` : 'Loading the ledger…'}</p>`}
    <${PledgeForm} community=${fund.community} />
  </section>`;
}

/** The Bridge Funds: each community's budget, pledges, matches and spend this epoch, as the public report has them. */
export function FundsView() {
  const loaded = useLoad(() => api<{ funds: Fund[] }>('/api/admin/funds'));
  return html`<${Page} title="Bridge Funds" loaded=${loaded}>
    ${({ funds }: { funds: Fund[] }) => html`
      <${Title}>Bridge Funds<//>
      <p class="lead">Communities pay, visibly, to raise the posts that bridge them. Funds are kept in the curator file (funds), whether set there, here or through the admin API.</p>
      <${Notice} />
      <div class="actions"><a class="button" href=${NEW_FUND}>New fund</a></div>
      ${funds.length === 0 ? html`<p>No community has a fund.</p>` : funds.map((fund) => html`<${FundSection} key=${fund.community} fund=${fund} />`)}
    `}
  <//>`;
}
