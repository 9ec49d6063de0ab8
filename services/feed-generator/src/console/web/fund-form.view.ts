import { useState } from 'preact/hooks';
import type { Curation, Fund, FundInput } from './api.types.js';
import { CurationProblem, Field, hintOf } from './components.js';
import { checkedOf, FormActions, useCurationEdit, valueOf } from './curation-edit.js';
import { html } from './html.js';
import { FUNDS } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api, ApiError } from './session.js';

/** The fund's amounts and bounds, in the curator file's own units, with what each means. */
const NUMBERS: [key: keyof FundInput & string, label: string, hint: string, fallback: string][] = [
  ['budget', 'Budget', 'Credits the fund may spend on impressions of the posts it boosts, per epoch', ''],
  ['matchingPool', 'Matching pool', 'Credits matched, at most, to posts the members support together with other communities', '0'],
  ['memberAllowance', 'Member allowance', 'Credits one member may pledge per epoch', '100'],
  ['pageShare', 'Page share', 'Largest share of a page boosts may take, over 0 and at most 1: 0.2 is one boosted post in five', '0.2'],
  ['minBridging', 'Bridging needed', 'Approval a post needs in each funding community to be boosted, 0–1', '0.5'],
  ['maxLift', 'Largest lift', 'How far a boost raises a score: 1 lets a post pass posts scoring up to twice its own', '1'],
];

function FundForm({ curation, funds, existing }: { curation: Curation; funds: Fund[]; existing: Fund | null }) {
  const free = curation.communities.filter((community) => !funds.some((fund) => fund.community === community.id));
  const [community, setCommunity] = useState(existing?.community ?? free[0]?.id ?? '');
  const [numbers, setNumbers] = useState<Record<string, string>>(() =>
    Object.fromEntries(NUMBERS.map(([key, , , fallback]) => [key, existing ? String(existing[key as keyof Fund]) : fallback])),
  );
  const [feeds, setFeeds] = useState<string[]>(existing?.feeds ?? []);
  const { error, setError, saving, send } = useCurationEdit(FUNDS);

  const onSubmit = async (event: SubmitEvent) => {
    event.preventDefault();
    if (!community) {
      setError('Choose the community whose fund this is.');
      return;
    }
    // A field left empty takes the file's default (the budget has none: the file's check says so).
    const body: FundInput = {
      ...(Object.fromEntries(NUMBERS.filter(([key]) => (numbers[key] ?? '').trim() !== '').map(([key]) => [key, Number(numbers[key])])) as FundInput),
      feeds: curation.feeds.map((feed) => feed.shortname).filter((shortname) => feeds.includes(shortname)),
    };
    await send(`/api/admin/funds/${encodeURIComponent(community)}`, 'PUT', body, `Saved the fund of ${community}.`);
  };

  const onDelete = async () => {
    if (!existing || !window.confirm(`Close the fund of "${existing.community}"? Its boosts stop at the next ranking.`)) return;
    await send(`/api/admin/funds/${encodeURIComponent(existing.community)}`, 'DELETE', undefined, `Closed the fund of ${existing.community}.`);
  };

  const toggleFeed = (shortname: string, on: boolean) => setFeeds(on ? [...feeds, shortname] : feeds.filter((entry) => entry !== shortname));

  if (!existing && free.length === 0) {
    return html`<${Title}>New fund<//><p>Every community has a fund already. <a href=${FUNDS}>Back to the funds</a></p>`;
  }
  return html`
    <${Title}>${existing ? `Edit the fund of ${existing.community}` : 'New fund'}<//>
    <p class="lead">Saved to the curator file with the same checks as the file itself. Amounts are credits per epoch.</p>
    <${CurationProblem} curation=${curation} />
    <form class="stack" novalidate onSubmit=${onSubmit}>
      ${!existing &&
      html`<${Field} id="fund-community" label="Community">
        <select id="fund-community" value=${community} onChange=${(event: Event) => setCommunity(valueOf(event))}>
          ${free.map((entry) => html`<option value=${entry.id}>${entry.name || entry.id}</option>`)}
        </select>
      <//>`}
      ${NUMBERS.map(([key, label, hint]) => {
        const id = `fund-${key}`;
        return html`<${Field} id=${id} label=${label} hint=${hint}>
          <input id=${id} type="number" min="0" step="any" required=${key === 'budget'} aria-describedby=${hintOf(id, hint)} value=${numbers[key]}
            onInput=${(event: Event) => setNumbers({ ...numbers, [key]: valueOf(event) })} />
        <//>`;
      })}
      <fieldset>
        <legend>Feeds it boosts in</legend>
        <p class="hint">None chosen: every feed over the community.</p>
        <div class="checks">
          ${curation.feeds.map(
            (feed) => html`<label for=${`fund-feed-${feed.shortname}`}>
              <input type="checkbox" id=${`fund-feed-${feed.shortname}`} checked=${feeds.includes(feed.shortname)}
                onChange=${(event: Event) => toggleFeed(feed.shortname, checkedOf(event))} />
              ${' '}${feed.displayName}
            </label>`,
          )}
        </div>
      </fieldset>
      <${FormActions} error=${error} saving=${saving} save="Save fund" cancelHref=${FUNDS} remove=${existing && { label: 'Close fund', onClick: onDelete }} />
    </form>
  `;
}

/** A new fund (`param` null) or a community's fund (`param` its id), edited with the curator file's own checks. */
export function FundFormView({ param }: { param: string | null }) {
  const loaded = useLoad(async () => {
    const [curation, { funds }] = await Promise.all([api<Curation>('/api/admin/curation'), api<{ funds: Fund[] }>('/api/admin/funds')]);
    const existing = param === null ? null : (funds.find((fund) => fund.community === param) ?? null);
    if (param !== null && !existing) throw new ApiError(404, `The community "${param}" has no fund.`);
    return { curation, funds, existing };
  }, param ?? '');
  return html`<${Page} title=${param === null ? 'New fund' : 'Edit fund'} loaded=${loaded}>
    ${({ curation, funds, existing }: { curation: Curation; funds: Fund[]; existing: Fund | null }) =>
      html`<${FundForm} curation=${curation} funds=${funds} existing=${existing} />`}
  <//>`;
}
