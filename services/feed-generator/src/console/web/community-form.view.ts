import { useState } from 'preact/hooks';
import type { Community, CommunityInput, Curation, MemberSources } from './api.types.js';
import { CurationProblem, Field, hintOf } from './components.js';
import { checkedOf, FormActions, lines, useCurationEdit, valueOf } from './curation-edit.js';
import { html } from './html.js';
import { COMMUNITIES } from './links.js';
import { Page, Title, useLoad } from './page.js';
import { api, ApiError } from './session.js';

const MEMBER_SOURCES: [key: keyof MemberSources, label: string, hint: string][] = [
  ['dids', 'Accounts (DIDs)', 'did:plc:… or did:web:…'],
  ['handles', 'Handles', 'someone.bsky.social'],
  ['lists', 'Lists', 'at://…/app.bsky.graph.list/… (followed live)'],
  ['starterPacks', 'Starter packs', 'at://…/app.bsky.graph.starterpack/…'],
  ['hashtags', 'Hashtags', 'without #, lower case: authors who used them recently'],
  ['followersOf', 'Followers of', 'DIDs of seed accounts'],
  ['exclude', 'Never members', 'DIDs excluded whatever the other sources say'],
];

function CommunityForm({ curation, existing }: { curation: Curation; existing: Community | null }) {
  const [id, setId] = useState('');
  const [name, setName] = useState(existing?.name ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [selfEnrolment, setSelfEnrolment] = useState(existing?.allowSelfEnrolment ?? false);
  const [sources, setSources] = useState<Record<string, string>>(() =>
    Object.fromEntries(MEMBER_SOURCES.map(([key]) => [key, (existing?.members[key] ?? []).join('\n')])),
  );
  const { error, setError, saving, send } = useCurationEdit(COMMUNITIES);

  const onSubmit = async (event: SubmitEvent) => {
    event.preventDefault();
    const target = existing ? existing.id : id.trim();
    if (!/^[A-Za-z0-9_-]+$/.test(target)) {
      setError('The community id must be letters, digits, - or _.');
      return;
    }
    // Saving a new community under a taken id would replace that community's members.
    if (!existing && curation.communities.some((community) => community.id === target)) {
      setError(`A community "${target}" exists already: edit it, or choose another id.`);
      return;
    }
    const members: Partial<MemberSources> = {};
    for (const [key] of MEMBER_SOURCES) {
      const values = lines(sources[key] ?? '');
      if (values.length) members[key] = values;
    }
    const body: CommunityInput = {
      name: name.trim() || undefined,
      description: description.trim() || undefined,
      members,
      allowSelfEnrolment: selfEnrolment || undefined,
    };
    await send(`/api/admin/communities/${encodeURIComponent(target)}`, 'PUT', body, `Saved community ${target}.`);
  };

  const onDelete = async () => {
    if (!existing || !window.confirm(`Delete the community "${existing.id}"? Feeds that name it must be changed first.`)) return;
    await send(`/api/admin/communities/${encodeURIComponent(existing.id)}`, 'DELETE', undefined, `Deleted community ${existing.id}.`);
  };

  const idHint = 'Letters, digits, - and _; feeds name communities by it';
  return html`
    <${Title}>${existing ? `Edit community: ${existing.name || existing.id}` : 'New community'}<//>
    <p class="lead">Saved to the curator file with the same checks as the file itself; every process picks the change up.</p>
    <${CurationProblem} curation=${curation} />
    <form class="stack" novalidate onSubmit=${onSubmit}>
      ${!existing &&
      html`<${Field} id="community-id" label="Id" hint=${idHint}>
        <input id="community-id" name="id" type="text" required pattern="[A-Za-z0-9_-]+" autocomplete="off" aria-describedby=${hintOf('community-id', idHint)}
          value=${id} onInput=${(event: Event) => setId(valueOf(event))} />
      <//>`}
      <${Field} id="community-name" label="Name">
        <input id="community-name" name="name" type="text" value=${name} onInput=${(event: Event) => setName(valueOf(event))} />
      <//>
      <${Field} id="community-description" label="Description">
        <textarea id="community-description" name="description" rows="2" value=${description}
          onInput=${(event: Event) => setDescription(valueOf(event))} />
      <//>
      <fieldset>
        <legend>Members</legend>
        ${MEMBER_SOURCES.map(([key, label, hint]) => {
          const fieldId = `members-${key}`;
          return html`<${Field} id=${fieldId} label=${label} hint=${`${hint}; one per line`}>
            <textarea id=${fieldId} name=${key} rows="3" aria-describedby=${`${fieldId}-hint`} value=${sources[key]}
              onInput=${(event: Event) => setSources({ ...sources, [key]: valueOf(event) })} />
          <//>`;
        })}
      </fieldset>
      <div class="field">
        <label for="community-self-enrolment">
          <input id="community-self-enrolment" type="checkbox" checked=${selfEnrolment} aria-describedby="community-self-enrolment-hint"
            onChange=${(event: Event) => setSelfEnrolment(checkedOf(event))} />
          ${' '}Members-only feeds may serve it although anyone can join
        </label>
        <span class="hint" id="community-self-enrolment-hint">Hashtags and followers let anyone make themselves a member: a members-only feed over this community is refused unless this is ticked.</span>
      </div>
      <${FormActions} error=${error} saving=${saving} save="Save community" cancelHref=${COMMUNITIES}
        remove=${existing && { label: 'Delete community', onClick: onDelete }} />
    </form>
  `;
}

/** A new community (`param` null) or an existing one, edited with the curator file's own checks. */
export function CommunityFormView({ param }: { param: string | null }) {
  const curation = useLoad(async () => {
    const found = await api<Curation>('/api/admin/curation');
    const existing = param === null ? null : (found.communities.find((community) => community.id === param) ?? null);
    if (param !== null && !existing) throw new ApiError(404, `There is no community "${param}".`);
    return { curation: found, existing };
  }, param ?? '');
  return html`<${Page} title=${param === null ? 'New community' : 'Edit community'} loaded=${curation}>
    ${({ curation: data, existing }: { curation: Curation; existing: Community | null }) => html`<${CommunityForm} curation=${data} existing=${existing} />`}
  <//>`;
}
