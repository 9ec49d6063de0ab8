import type { Feed } from './api.types.js';
import { Field, hintOf } from './components.js';
import { valueOf } from './curation-edit.js';
import { html } from './html.js';

// The sections a `digest` or `deliberation` feed needs beside the common fields, as the form holds
// them (the text of each input) and as the curator file takes them. The server checks them with
// the file's own schema; the form only turns its inputs into the section.

const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const DIGEST_BASES = ['bridging', 'bridging-within', 'balanced'] as const;
/** The time zones the browser knows, offered as the time zone field's suggestions. */
const TIME_ZONES = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : ['UTC'];

const HINTS = {
  cadence: 'daily: an edition every day at the time below · weekly: on the day below',
  at: 'When each edition appears, in the time zone below',
  timeZone: 'An IANA time zone such as Europe/Paris; UTC when empty',
  size: 'Posts in each edition: 1–100. The feed ends after them',
  base: 'The ranking each edition takes its best posts from',
  endCard: 'Optional: the at:// URI of your own post, served last ("you’re caught up — next edition Monday 8:00")',
  title: 'Optional: the question the conversation asks, shown on its report',
  source: 'Its statements are the replies to and quotes of a post of yours, or the posts with a hashtag in the feed’s window',
  participants: 'Whose votes count: anyone who sees the statements, or only members of the feed’s communities',
};

export interface DigestForm {
  cadence: 'daily' | 'weekly';
  day: string;
  at: string;
  timeZone: string;
  size: string;
  base: string;
  endCard: string;
}

export interface ConversationForm {
  title: string;
  source: 'root' | 'hashtag';
  root: string;
  hashtag: string;
  participants: 'anyone' | 'members';
}

export function digestForm(digest: Feed['digest']): DigestForm {
  return {
    cadence: digest?.cadence ?? 'weekly',
    day: digest?.day ?? 'monday',
    at: digest?.at ?? '08:00',
    timeZone: digest?.timeZone ?? 'UTC',
    size: String(digest?.size ?? 20),
    base: digest?.base ?? 'bridging',
    endCard: digest?.endCard ?? '',
  };
}

export function conversationForm(conversation: Feed['deliberation']): ConversationForm {
  return {
    title: conversation?.title ?? '',
    source: conversation?.hashtag !== undefined ? 'hashtag' : 'root',
    root: conversation?.root ?? '',
    hashtag: conversation?.hashtag ?? '',
    participants: conversation?.participants ?? 'anyone',
  };
}

/** The `digest` section the form's inputs say; the server checks it (a size that is not a number among others). */
export function digestSection(form: DigestForm): NonNullable<Feed['digest']> {
  const endCard = form.endCard.trim();
  return {
    cadence: form.cadence,
    ...(form.cadence === 'weekly' && { day: form.day as (typeof WEEKDAYS)[number] }),
    at: form.at,
    timeZone: form.timeZone.trim() || 'UTC',
    size: Number(form.size),
    base: form.base as (typeof DIGEST_BASES)[number],
    ...(endCard && { endCard }),
  };
}

/** The `deliberation` section the form's inputs say: its root post or its hashtag (written with or without #). */
export function conversationSection(form: ConversationForm): NonNullable<Feed['deliberation']> {
  const title = form.title.trim();
  return {
    ...(title && { title }),
    ...(form.source === 'root' ? { root: form.root.trim() } : { hashtag: form.hashtag.trim().replace(/^#/, '') }),
    participants: form.participants,
  };
}

export function DigestFields({ form, onChange }: { form: DigestForm; onChange: (form: DigestForm) => void }) {
  const set = (field: keyof DigestForm) => (event: Event) => onChange({ ...form, [field]: valueOf(event) });
  return html`<fieldset>
    <legend>Digest</legend>
    <${Field} id="digest-cadence" label="Cadence" hint=${HINTS.cadence}>
      <select id="digest-cadence" aria-describedby=${hintOf('digest-cadence', HINTS.cadence)} value=${form.cadence} onChange=${set('cadence')}>
        <option value="daily">daily</option>
        <option value="weekly">weekly</option>
      </select>
    <//>
    ${form.cadence === 'weekly' &&
    html`<${Field} id="digest-day" label="Day">
      <select id="digest-day" value=${form.day} onChange=${set('day')}>
        ${WEEKDAYS.map((day) => html`<option value=${day}>${day}</option>`)}
      </select>
    <//>`}
    <${Field} id="digest-at" label="Time of day" hint=${HINTS.at}>
      <input id="digest-at" type="time" required aria-describedby=${hintOf('digest-at', HINTS.at)} value=${form.at} onInput=${set('at')} />
    <//>
    <${Field} id="digest-time-zone" label="Time zone" hint=${HINTS.timeZone}>
      <input id="digest-time-zone" type="text" list="time-zones" autocomplete="off" aria-describedby=${hintOf('digest-time-zone', HINTS.timeZone)}
        value=${form.timeZone} onInput=${set('timeZone')} />
      <datalist id="time-zones">${TIME_ZONES.map((zone) => html`<option value=${zone} />`)}</datalist>
    <//>
    <${Field} id="digest-size" label="Posts per edition" hint=${HINTS.size}>
      <input id="digest-size" type="number" min="1" max="100" step="1" required aria-describedby=${hintOf('digest-size', HINTS.size)} value=${form.size} onInput=${set('size')} />
    <//>
    <${Field} id="digest-base" label="Base ranking" hint=${HINTS.base}>
      <select id="digest-base" aria-describedby=${hintOf('digest-base', HINTS.base)} value=${form.base} onChange=${set('base')}>
        ${DIGEST_BASES.map((base) => html`<option value=${base}>${base}</option>`)}
      </select>
    <//>
    <${Field} id="digest-end-card" label="End card" hint=${HINTS.endCard}>
      <input id="digest-end-card" type="text" autocomplete="off" aria-describedby=${hintOf('digest-end-card', HINTS.endCard)} value=${form.endCard} onInput=${set('endCard')} />
    <//>
  </fieldset>`;
}

export function ConversationFields({ form, onChange }: { form: ConversationForm; onChange: (form: ConversationForm) => void }) {
  const set = (field: keyof ConversationForm) => (event: Event) => onChange({ ...form, [field]: valueOf(event) });
  return html`<fieldset>
    <legend>Conversation</legend>
    <${Field} id="conversation-title" label="Question" hint=${HINTS.title}>
      <input id="conversation-title" type="text" maxlength="200" aria-describedby=${hintOf('conversation-title', HINTS.title)} value=${form.title} onInput=${set('title')} />
    <//>
    <${Field} id="conversation-source" label="Statements" hint=${HINTS.source}>
      <select id="conversation-source" aria-describedby=${hintOf('conversation-source', HINTS.source)} value=${form.source} onChange=${set('source')}>
        <option value="root">replies to and quotes of a post</option>
        <option value="hashtag">posts with a hashtag</option>
      </select>
    <//>
    ${form.source === 'root'
      ? html`<${Field} id="conversation-root" label="Root post (at:// URI)">
          <input id="conversation-root" type="text" required autocomplete="off" value=${form.root} onInput=${set('root')} />
        <//>`
      : html`<${Field} id="conversation-hashtag" label="Hashtag">
          <input id="conversation-hashtag" type="text" required maxlength="65" autocomplete="off" value=${form.hashtag} onInput=${set('hashtag')} />
        <//>`}
    <${Field} id="conversation-participants" label="Participants" hint=${HINTS.participants}>
      <select id="conversation-participants" aria-describedby=${hintOf('conversation-participants', HINTS.participants)} value=${form.participants} onChange=${set('participants')}>
        <option value="anyone">anyone</option>
        <option value="members">members only</option>
      </select>
    <//>
  </fieldset>`;
}
