import { useState } from 'preact/hooks';
import { leaveNotice } from './announce.js';
import { FormError } from './components.js';
import { html } from './html.js';
import { api, ApiError } from './session.js';

/** What an input, select or text area holds now, from its event; and a checkbox. */
export const valueOf = (event: Event) => (event.currentTarget as HTMLInputElement).value;
export const checkedOf = (event: Event) => (event.currentTarget as HTMLInputElement).checked;

/** The entries of a list field: one per line (or comma-separated), blanks dropped. */
export const lines = (value: string) =>
  value
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter(Boolean);

/**
 * What the curation forms (communities, feeds, funds) share: a change sent to the admin API, the
 * notice the list they return to shows, and why a change was refused, in the form. A refused
 * token is not shown there: the session asks to sign in again instead.
 */
export function useCurationEdit(returnTo: string) {
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const send = async (path: string, method: 'PUT' | 'DELETE', body: unknown, notice: string) => {
    setSaving(true);
    setError(null);
    try {
      await api(path, { method, body });
      leaveNotice(notice);
      location.hash = returnTo;
    } catch (failure) {
      setSaving(false);
      if (!(failure instanceof ApiError && failure.status === 401)) setError((failure as Error).message);
    }
  };
  return { error, setError, saving, send };
}

/** A curation form's last part: why it was not saved, and Save, Cancel and (for what exists) Delete. */
export function FormActions(props: { error: string | null; saving: boolean; save: string; cancelHref: string; remove?: { label: string; onClick: () => void } }) {
  const { error, saving, save, cancelHref, remove } = props;
  return html`
    <${FormError} message=${error} />
    <div class="actions">
      <button type="submit" disabled=${saving}>${save}</button>
      <a class="button secondary" href=${cancelHref}>Cancel</a>
      ${remove && html`<button type="button" class="danger" onClick=${remove.onClick}>${remove.label}</button>`}
    </div>
  `;
}
