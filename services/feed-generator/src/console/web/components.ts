import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { takeNotice } from './announce.js';
import type { Curation } from './api.types.js';
import { html } from './html.js';

/** A labelled form control with an optional hint; the control names the hint `${id}-hint` in aria-describedby. */
export function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ComponentChildren }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${hint && html`<span class="hint" id=${`${id}-hint`}>${hint}</span>`} ${children}
  </div>`;
}

export const hintOf = (id: string, hint?: string) => (hint ? `${id}-hint` : undefined);

/** Why a form was not saved: takes the focus when it appears, so that it is read at once. */
export function FormError({ message }: { message: string | null }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (message) box.current?.focus();
  }, [message]);
  if (!message) return null;
  return html`<div class="error" role="alert" tabindex="-1" ref=${box}><strong>Not saved. </strong>${message}</div>`;
}

export function CurationProblem({ curation }: { curation: Curation }) {
  if (!curation.lastProblem) return null;
  return html`<div class="error" role="alert">
    <strong>The curator file has a mistake; the previous definitions stay in force. </strong>${curation.lastProblem}
  </div>`;
}

/** The notice left by the view before (not a live region: it was announced when left). */
export function Notice() {
  const [notice] = useState(takeNotice);
  return notice ? html`<p class="notice">${notice}</p>` : null;
}
