// The pages the server writes itself: the sign-in page (with its script and style, external because
// the CSP forbids inline code) and a placeholder shell for when the web build is missing.

/** Self only, no inline script or style, no framing: what a page holding a budget's controls needs. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** Marks the sign-in page, so the page's code and tests can tell it from the app. */
export const SIGN_IN_MARKER = '<meta name="spendcap-page" content="sign-in">';

export const SIGN_IN_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${SIGN_IN_MARKER}
<title>Sign in · spendcap</title>
<link rel="stylesheet" href="/dashboard/signin.css">
<script src="/dashboard/signin.js" defer></script>
</head>
<body>
<main>
<h1>spendcap</h1>
<p id="status" role="status">Signing in needs a one-time link from this machine.</p>
<p>Run <code>spendcap dashboard</code> in a terminal: it prints a link that signs this browser in (and opens it).
<code>spendcap start</code> opens one by itself. A link works once and for 10 minutes.</p>
</main>
</body>
</html>
`;

// Reads the one-time token from the fragment, drops the fragment from the address bar and history
// at once (before any request), trades the token for the session cookie and reloads the page.
export const SIGN_IN_JS = `'use strict';
(function () {
  var status = document.getElementById('status');
  var m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return;
  var token = decodeURIComponent(m[1]);
  history.replaceState(null, '', location.pathname + location.search);
  status.textContent = 'Signing in…';
  var fail = function (text) {
    status.textContent = text;
    status.className = 'error';
  };
  fetch('/dashboard/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-spendcap-csrf': '1' },
    body: JSON.stringify({ token: token }),
  }).then(function (r) {
    if (r.ok) location.replace(location.pathname + location.search);
    else fail('This sign-in link was already used or has expired. Run spendcap dashboard for a new one.');
  }, function () {
    fail('spendcap did not answer. Is it running? Start it with spendcap start.');
  });
})();
`;

export const SIGN_IN_CSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:#f6f7f9;color:#1c1e21}
main{max-width:32rem;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.1)}
h1{margin-top:0;font-size:1.4rem}
code{background:#eef0f3;padding:.1em .3em;border-radius:3px}
.error{color:#b00020;font-weight:600}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#e4e6eb}main{background:#22252b}code{background:#33373f}.error{color:#ff6b81}}
`;

/** Served when dist/web/index.html is missing (the web build has not run). */
export const PLACEHOLDER_SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="spendcap-page" content="app">
<title>spendcap</title>
</head>
<body>
<main id="app"><h1>spendcap</h1><p>Signed in. The dashboard's web build is missing: run <code>npm run build</code>. The admin API is at <code>/api/</code>.</p></main>
</body>
</html>
`;
