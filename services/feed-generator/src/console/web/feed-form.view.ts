import { useState } from 'preact/hooks';
import type { Curation, Feed, FeedInput, Ranking } from './api.types.js';
import { CurationProblem, Field, hintOf } from './components.js';
import { checkedOf, FormActions, lines, useCurationEdit, valueOf } from './curation-edit.js';
import { ConversationFields, conversationForm, conversationSection, DigestFields, digestForm, digestSection } from './feed-sections.view.js';
import { html } from './html.js';
import { FEEDS, feedHref } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api, ApiError } from './session.js';

const RANKINGS: Ranking[] = ['recent', 'bridging', 'bridging-within', 'balanced', 'digest', 'deliberation'];

const HINTS = {
  shortname: 'The record key of the feed: 1–15 lower-case letters, digits or -',
  displayName: 'At most 24 characters',
  description: 'At most 300 characters',
  ranking:
    'recent: newest first · bridging: across the communities · bridging-within: across the divide inside them · balanced: both sides in every stretch · digest: editions that end, at a cadence · deliberation: a conversation whose statements are voted on',
  window: 'Posts older than this are not shown, at most 744 hours (31 days); empty for the default: 72, a weekly digest 168',
  halfLife: 'Ranked feeds: a score halves every this many hours; empty for the default: 12, a weekly digest 84',
  balance: 'balanced feeds: "equal", or a JSON object of shares per side',
  exclude: 'Label values of the labelers we follow (LABELERS_SUBSCRIBE) that remove a post, or every post of an account carrying one; one per line',
  downrank: 'Label values that lower a post’s score instead; one per line',
  factor: 'What a lowered score is multiplied by: above 0 and below 1',
};


/** `balance` as written: "equal" or a JSON object of shares; undefined when empty; an Error when neither. */
function parseBalance(text: string): FeedInput['balance'] | Error {
  const value = text.trim();
  if (!value) return undefined;
  if (value === 'equal') return 'equal';
  try {
    return JSON.parse(value) as Record<string, number>;
  } catch {
    return new Error('Balance must be "equal" or a JSON object of shares, e.g. {"positive": 0.5, "negative": 0.5}.');
  }
}

const balanceText = (balance: Feed['balance']) => (typeof balance === 'string' ? balance : JSON.stringify(balance));

function FeedForm({ curation, existing }: { curation: Curation; existing: Feed | null }) {
  const [shortname, setShortname] = useState('');
  const [displayName, setDisplayName] = useState(existing?.displayName ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [ranking, setRanking] = useState<Ranking>(existing?.ranking ?? 'recent');
  // A timescale left to the default stays empty, so that saving does not write today's default into the feed.
  const [windowHours, setWindowHours] = useState(existing && !existing.defaulted?.includes('windowHours') ? String(existing.windowHours) : '');
  const [halfLife, setHalfLife] = useState(existing && !existing.defaulted?.includes('halfLifeHours') ? String(existing.halfLifeHours) : '');
  const [balance, setBalance] = useState(balanceText(existing?.balance ?? 'equal'));
  const [membersOnly, setMembersOnly] = useState(existing?.membersOnly ?? false);
  const [includeReplies, setIncludeReplies] = useState(existing?.includeReplies ?? false);
  const [communities, setCommunities] = useState<string[]>(existing?.communities ?? []);
  const [exclude, setExclude] = useState((existing?.labels?.exclude ?? []).join('\n'));
  const [downrank, setDownrank] = useState((existing?.labels?.downrank?.labels ?? []).join('\n'));
  const [factor, setFactor] = useState(String(existing?.labels?.downrank?.factor ?? 0.5));
  const [digest, setDigest] = useState(digestForm(existing?.digest));
  const [conversation, setConversation] = useState(conversationForm(existing?.deliberation));
  const { error, setError, saving, send } = useCurationEdit(FEEDS);

  const onSubmit = async (event: SubmitEvent) => {
    event.preventDefault();
    const target = existing ? existing.shortname : shortname.trim();
    if (!/^[a-z0-9-]{1,15}$/.test(target)) {
      setError('The short name must be 1–15 lower-case letters, digits or -.');
      return;
    }
    // Saving a new feed under a taken short name would replace that feed.
    if (!existing && curation.feeds.some((feed) => feed.shortname === target)) {
      setError(`A feed "${target}" exists already: edit it, or choose another short name.`);
      return;
    }
    const balanceValue = parseBalance(balance);
    if (balanceValue instanceof Error) {
      setError(balanceValue.message);
      return;
    }
    const body: FeedInput = {
      displayName: displayName.trim(),
      description: description.trim() || undefined,
      communities: curation.communities.map((community) => community.id).filter((id) => communities.includes(id)),
      ranking,
      membersOnly,
      includeReplies,
      windowHours: windowHours === '' ? undefined : Number(windowHours),
      halfLifeHours: halfLife === '' ? undefined : Number(halfLife),
      balance: balanceValue,
      // An empty list only where the feed had rules: the API keeps a feed's rules when a save names none.
      exclude: lines(exclude).length > 0 ? lines(exclude) : existing?.labels ? [] : undefined,
      downrank: lines(downrank).length > 0 ? { labels: lines(downrank), factor: Number(factor) } : undefined,
      // Only the ranking's own section: the file refuses a digest section on any other feed.
      digest: ranking === 'digest' ? digestSection(digest) : undefined,
      deliberation: ranking === 'deliberation' ? conversationSection(conversation) : undefined,
    };
    await send(`/api/admin/feeds/${encodeURIComponent(target)}`, 'PUT', body, `Saved feed ${target}.`);
  };

  const onDelete = async () => {
    if (!existing || !window.confirm(`Delete the feed "${existing.shortname}"? Subscribers will get UnknownFeed.`)) return;
    await send(`/api/admin/feeds/${encodeURIComponent(existing.shortname)}`, 'DELETE', undefined, `Deleted feed ${existing.shortname}.`);
  };

  const toggleCommunity = (id: string, on: boolean) => setCommunities(on ? [...communities, id] : communities.filter((entry) => entry !== id));

  return html`
    <${Title}>${existing ? `Edit feed: ${existing.displayName}` : 'New feed'}<//>
    <p class="lead">Saved to the curator file with the same checks as the file itself.</p>
    <${CurationProblem} curation=${curation} />
    <form class="stack" novalidate onSubmit=${onSubmit}>
      ${!existing &&
      html`<${Field} id="feed-shortname" label="Short name" hint=${HINTS.shortname}>
        <input id="feed-shortname" type="text" required maxlength="15" pattern="[a-z0-9-]+" autocomplete="off" aria-describedby=${hintOf('feed-shortname', HINTS.shortname)}
          value=${shortname} onInput=${(event: Event) => setShortname(valueOf(event))} />
      <//>`}
      <${Field} id="feed-display-name" label="Display name" hint=${HINTS.displayName}>
        <input id="feed-display-name" type="text" maxlength="24" required aria-describedby="feed-display-name-hint"
          value=${displayName} onInput=${(event: Event) => setDisplayName(valueOf(event))} />
      <//>
      <${Field} id="feed-description" label="Description" hint=${HINTS.description}>
        <textarea id="feed-description" rows="3" maxlength="300" aria-describedby="feed-description-hint"
          value=${description} onInput=${(event: Event) => setDescription(valueOf(event))} />
      <//>
      <fieldset>
        <legend>Communities</legend>
        <div class="checks">
          ${curation.communities.map(
            (community) => html`<label for=${`feed-community-${community.id}`}>
              <input type="checkbox" id=${`feed-community-${community.id}`} value=${community.id} checked=${communities.includes(community.id)}
                onChange=${(event: Event) => toggleCommunity(community.id, checkedOf(event))} />
              ${' '}${community.name || community.id}
            </label>`,
          )}
        </div>
      </fieldset>
      <${Field} id="feed-ranking" label="Ranking" hint=${HINTS.ranking}>
        <select id="feed-ranking" aria-describedby="feed-ranking-hint" value=${ranking} onChange=${(event: Event) => setRanking(valueOf(event) as Ranking)}>
          ${RANKINGS.map((name) => html`<option value=${name}>${name}</option>`)}
        </select>
      <//>
      ${ranking === 'digest' && html`<${DigestFields} form=${digest} onChange=${setDigest} />`}
      ${ranking === 'deliberation' && html`<${ConversationFields} form=${conversation} onChange=${setConversation} />`}
      <${Field} id="feed-window" label="Window (hours)" hint=${HINTS.window}>
        <input id="feed-window" type="number" min="1" max="744" step="any" placeholder="default" aria-describedby="feed-window-hint" value=${windowHours} onInput=${(event: Event) => setWindowHours(valueOf(event))} />
      <//>
      <${Field} id="feed-half-life" label="Half-life (hours)" hint=${HINTS.halfLife}>
        <input id="feed-half-life" type="number" min="0.1" step="any" placeholder="default" aria-describedby="feed-half-life-hint" value=${halfLife} onInput=${(event: Event) => setHalfLife(valueOf(event))} />
      <//>
      <${Field} id="feed-balance" label="Balance" hint=${HINTS.balance}>
        <input id="feed-balance" type="text" aria-describedby="feed-balance-hint" value=${balance} onInput=${(event: Event) => setBalance(valueOf(event))} />
      <//>
      <fieldset>
        <legend>Labels</legend>
        <${Field} id="feed-exclude" label="Remove posts labelled" hint=${HINTS.exclude}>
          <textarea id="feed-exclude" rows="2" aria-describedby="feed-exclude-hint" value=${exclude} onInput=${(event: Event) => setExclude(valueOf(event))} />
        <//>
        <${Field} id="feed-downrank" label="Rank lower posts labelled" hint=${HINTS.downrank}>
          <textarea id="feed-downrank" rows="2" aria-describedby="feed-downrank-hint" value=${downrank} onInput=${(event: Event) => setDownrank(valueOf(event))} />
        <//>
        <${Field} id="feed-downrank-factor" label="Lowered by" hint=${HINTS.factor}>
          <input id="feed-downrank-factor" type="number" min="0" max="1" step="any" aria-describedby="feed-downrank-factor-hint" value=${factor} onInput=${(event: Event) => setFactor(valueOf(event))} />
        <//>
      </fieldset>
      <div class="checks">
        <label for="feed-members-only">
          <input id="feed-members-only" type="checkbox" checked=${membersOnly} onChange=${(event: Event) => setMembersOnly(checkedOf(event))} /> Members only
        </label>
        <label for="feed-replies">
          <input id="feed-replies" type="checkbox" checked=${includeReplies} onChange=${(event: Event) => setIncludeReplies(checkedOf(event))} /> Include replies
        </label>
      </div>
      <${FormActions} error=${error} saving=${saving} save="Save feed" cancelHref=${existing ? feedHref(existing.shortname) : FEEDS}
        remove=${existing && { label: 'Delete feed', onClick: onDelete }} />
    </form>
  `;
}

/** A new feed (`param` null) or an existing one, edited with the curator file's own checks. */
export function FeedFormView({ param }: { param: string | null }) {
  const loaded = useLoad(async () => {
    const curation = await api<Curation>('/api/admin/curation');
    const existing = param === null ? null : (curation.feeds.find((feed) => feed.shortname === param) ?? null);
    if (param !== null && !existing) throw new ApiError(404, `There is no feed "${param}".`);
    return { curation, existing };
  }, param ?? '');
  return html`<${Page} title=${param === null ? 'New feed' : 'Edit feed'} loaded=${loaded}>
    ${({ curation, existing }: { curation: Curation; existing: Feed | null }) => html`<${FeedForm} curation=${curation} existing=${existing} />`}
  <//>`;
}
