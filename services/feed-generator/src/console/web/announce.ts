import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

/**
 * What the console says to screen readers (a polite live region), and the notice a view shows once
 * after a navigation, such as "Saved feed climate-new." on the list the form returned to.
 */

let speak: ((message: string) => void) | undefined;
let pendingNotice = '';

export function announce(message: string): void {
  speak?.(message);
}

/** Announces `message` now and shows it on the next view that takes the notice. */
export function leaveNotice(message: string): void {
  pendingNotice = message;
  announce(message);
}

export function takeNotice(): string {
  const notice = pendingNotice;
  pendingNotice = '';
  return notice;
}

/** The live region. */
export function Announcer() {
  const [message, setMessage] = useState('');
  useEffect(() => {
    let timer: number | undefined;
    // Emptied first, so that the same message twice is spoken twice.
    speak = (next) => {
      setMessage('');
      window.clearTimeout(timer);
      timer = window.setTimeout(() => setMessage(next), 50);
    };
    return () => {
      speak = undefined;
      window.clearTimeout(timer);
    };
  }, []);
  return html`<div id="announce" class="visually-hidden" role="status" aria-live="polite">${message}</div>`;
}
