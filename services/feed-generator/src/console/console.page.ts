/**
 * The console's only HTML document: a shell the script fills. Semantic landmarks, a skip link and
 * a polite live region; the sign-in form works before anything else has loaded.
 */
export const consolePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Common Ground console</title>
<link rel="stylesheet" href="/console/console.css">
<script src="/console/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <p class="brand">Common Ground <span>console</span></p>
  <nav id="nav" aria-label="Console sections" hidden>
    <ul>
      <li><a href="#/health">Health</a></li>
      <li><a href="#/communities">Communities</a></li>
      <li><a href="#/feeds">Feeds</a></li>
    </ul>
  </nav>
  <p class="who" id="who" hidden></p>
  <button type="button" class="secondary" id="sign-out" hidden>Sign out</button>
</header>
<main id="main" tabindex="-1">
  <section id="login" class="login" aria-labelledby="login-title" hidden>
    <h1 id="login-title" tabindex="-1">Sign in</h1>
    <p class="lead">Operators and curators sign in with the admin token (<code>ADMIN_TOKEN</code>). It is kept in this tab only.</p>
    <form id="login-form" class="stack" novalidate>
      <div class="field">
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required aria-describedby="login-error">
      </div>
      <div class="actions"><button type="submit">Sign in</button></div>
      <p id="login-error" class="error" role="alert" hidden></p>
    </form>
  </section>
  <div id="view"></div>
  <noscript><p class="error">The console needs JavaScript.</p></noscript>
</main>
<div id="announce" class="visually-hidden" role="status" aria-live="polite"></div>
</body>
</html>
`;
