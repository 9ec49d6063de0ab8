import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from './announce.js';
import { html } from './html.js';
import { HOME } from './links.js';
import { checkToken, signIn } from './session.js';

/** Sign-in with the admin token (`ADMIN_TOKEN`), checked against the server before it is kept. */
export function LoginView({ reason }: { reason: string }) {
  const [error, setError] = useState(reason);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Sign in · Common Ground console';
    input.current?.focus();
  }, []);
  useEffect(() => setError(reason), [reason]);

  const onSubmit = async (event: SubmitEvent) => {
    event.preventDefault();
    const field = input.current!;
    const token = field.value.trim();
    if (!token) {
      setError('Enter the admin token.');
      field.focus();
      return;
    }
    setBusy(true);
    setError('');
    const refused = await checkToken(token);
    setBusy(false);
    if (refused) {
      setError(refused);
      field.focus();
      field.select();
      return;
    }
    field.value = '';
    if (!location.hash || location.hash === '#/') location.hash = HOME;
    signIn(token);
    announce('Signed in');
  };

  return html`
    <section class="login" aria-labelledby="login-title">
      <h1 id="login-title" tabindex="-1">Sign in</h1>
      <p class="lead">Operators and curators sign in with the admin token (<code>ADMIN_TOKEN</code>). It is kept in this tab only.</p>
      <form class="stack" novalidate onSubmit=${onSubmit}>
        <div class="field">
          <label for="token">Admin token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="current-password"
            required
            ref=${input}
            aria-invalid=${error ? 'true' : 'false'}
            aria-describedby=${error ? 'login-error' : undefined}
          />
        </div>
        <div class="actions"><button type="submit" disabled=${busy}>Sign in</button></div>
        ${error && html`<p id="login-error" class="error" role="alert">${error}</p>`}
      </form>
    </section>
  `;
}
