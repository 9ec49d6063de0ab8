import { useEffect, useState } from 'preact/hooks';
import { announce, Announcer } from './announce.js';
import { html } from './html.js';
import { LoginView } from './login.view.js';
import { HOME } from './links.js';
import { routeOf, useHash } from './routes.js';
import { currentToken, onSessionChange, signOut, type SignedOut } from './session.js';

const SECTIONS = [
  ['#/health', 'Health'],
  ['#/communities', 'Communities'],
  ['#/feeds', 'Feeds'],
  ['#/funds', 'Funds'],
  ['#/labels', 'Labels'],
  ['#/notes', 'Notes'],
] as const;

/** The console: header and navigation, then the sign-in form or the view the location names. */
export function App() {
  const [token, setToken] = useState(currentToken);
  const [signedOut, setSignedOut] = useState<SignedOut>({ reason: '' });
  const hash = useHash();
  useEffect(
    () =>
      onSessionChange((next, out) => {
        setToken(next);
        if (out) setSignedOut(out);
      }),
    [],
  );
  const route = token ? routeOf(hash || HOME) : undefined;
  useEffect(() => {
    if (token && !route) location.replace(HOME);
  }, [token, route]);

  // The hash is the route: the skip link moves the focus without navigating.
  const onSkip = (event: MouseEvent) => {
    event.preventDefault();
    document.getElementById('main')?.focus();
  };
  const onSignOut = () => {
    signOut();
    announce('Signed out');
  };

  return html`
    <a class="skip" href="#main" onClick=${onSkip}>Skip to content</a>
    <header class="top">
      <p class="brand">Common Ground <span>console</span></p>
      ${token &&
      html`<nav aria-label="Console sections">
          <ul>
            ${SECTIONS.map(
              ([href, label]) => html`<li><a href=${href} aria-current=${route?.section === href ? 'page' : undefined}>${label}</a></li>`,
            )}
          </ul>
        </nav>
        <button type="button" class="secondary sign-out" onClick=${onSignOut}>Sign out</button>`}
    </header>
    <main id="main" tabindex="-1">
      ${!token
        ? html`<${LoginView} reason=${signedOut.reason} />`
        : route && html`<${route.view} key=${hash} param=${route.param} />`}
    </main>
    <${Announcer} />
  `;
}
