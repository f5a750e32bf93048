// Peer app for the benchmark: Express with the official @logto/express SDK, set up as its guide
// says (cookie-parser + express-session with its default in-memory store, handleAuthRoutes for
// /logto/sign-in and /logto/sign-in-callback, withLogto on the pages). The pages mirror the Rust
// app's home and profile so the three apps serve comparable HTML.
//
// `GET /api/me` is an API protected by Logto access tokens as Logto's Express API-protection guide
// writes it: the bearer token from the header, `jose`'s jwtVerify with a module-level
// createRemoteJWKSet (issuer, audience, expiry), then the required scopes. It is declared before
// the session middleware, as a separate API server would have none.
//
// Configuration from the environment (set by bench/driver.py): LOGTO_ENDPOINT, LOGTO_APP_ID,
// LOGTO_APP_SECRET, APP_BASE_URL, SESSION_SECRET, PORT, API_RESOURCE, API_REQUIRED_SCOPES.
import cookieParser from 'cookie-parser';
import express from 'express';
import session from 'express-session';
import { handleAuthRoutes, UserScope, withLogto } from '@logto/express';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const config = {
  endpoint: process.env.LOGTO_ENDPOINT.replace(/\/$/, ''),
  appId: process.env.LOGTO_APP_ID,
  appSecret: process.env.LOGTO_APP_SECRET,
  baseUrl: process.env.APP_BASE_URL.replace(/\/$/, ''),
  // Same extra scopes as the Rust app's default (LOGTO_SCOPES = "email identities").
  scopes: [UserScope.Email, UserScope.Identities],
};

const escapeHtml = (value) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const layout = (title, user, content) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
</head>
<body>
  <header class="site-header">
    <a class="brand" href="/">Logto sign-in</a>
    ${user ? '<nav aria-label="Account"><a href="/profile">Profile</a></nav>' : ''}
  </header>
  <main id="main" class="card">
${content}
  </main>
</body>
</html>`;

const app = express();

const issuer = `${config.endpoint}/oidc`;
const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
const apiResource = process.env.API_RESOURCE;
const requiredScopes = (process.env.API_REQUIRED_SCOPES ?? '').split(' ').filter(Boolean);

const extractBearerTokenFromHeaders = ({ authorization }) => {
  if (!authorization || !authorization.startsWith('Bearer ')) {
    throw new Error('no bearer token');
  }
  return authorization.slice('Bearer '.length);
};

const verifyAuthFromRequest = async (req, res, next) => {
  let payload;
  try {
    ({ payload } = await jwtVerify(extractBearerTokenFromHeaders(req.headers), jwks, {
      issuer,
      audience: apiResource,
    }));
  } catch {
    res.status(401).json({ error: 'invalid_token' });
    return;
  }
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
  if (!requiredScopes.every((scope) => scopes.includes(scope))) {
    res.status(403).json({ error: 'insufficient_scope' });
    return;
  }
  req.auth = { sub: payload.sub, clientId: payload.client_id, scopes };
  next();
};

app.get('/api/me', verifyAuthFromRequest, (req, res) => {
  res.json({ sub: req.auth.sub, client_id: req.auth.clientId, scopes: req.auth.scopes });
});

app.use(cookieParser());
app.use(
  session({
    secret: process.env.SESSION_SECRET,
    cookie: { maxAge: 14 * 24 * 60 * 60 * 1000 },
    // express-session warns when these are left to their deprecated defaults.
    resave: false,
    saveUninitialized: false,
  }),
);
app.use(handleAuthRoutes(config));

app.get('/', withLogto(config), (req, res) => {
  if (!req.user.isAuthenticated) {
    res.send(
      layout('Sign in', null, `  <h1>Welcome</h1>
  <p class="muted">Sign in to see your profile.</p>
  <div class="actions stacked"><a class="button" href="/logto/sign-in">Sign in</a></div>`),
    );
    return;
  }
  const u = req.user.claims;
  const shown = u.name || u.username || u.email || u.sub;
  res.send(
    layout('Welcome back', u, `  <section class="who">
    ${u.picture ? `<img class="avatar" src="${escapeHtml(u.picture)}" alt="" width="72" height="72">` : ''}
    <h1>Signed in as ${escapeHtml(shown)}</h1>
    ${u.email ? `<p class="muted" data-field="email">${escapeHtml(u.email)}</p>` : ''}
  </section>
  <div class="actions">
    <a class="button secondary" href="/profile">View profile</a>
    <a class="button" href="/logto/sign-out">Sign out</a>
  </div>`),
  );
});

// getAccessToken: the token comes from the session's cache; the SDK refreshes it only when expired.
app.get('/profile', withLogto({ ...config, getAccessToken: true }), (req, res) => {
  if (!req.user.isAuthenticated) {
    res.redirect('/logto/sign-in');
    return;
  }
  const u = req.user.claims;
  res.send(
    layout('Your profile', u, `  <h1>Your profile</h1>
  <dl class="facts">
    <dt>Name</dt><dd data-field="name">${escapeHtml(u.name || '—')}</dd>
    <dt>Email</dt><dd data-field="email">${escapeHtml(u.email || '—')}</dd>
    <dt>Username</dt><dd data-field="username">${escapeHtml(u.username || '—')}</dd>
    <dt>User ID</dt><dd data-field="sub"><code>${escapeHtml(u.sub)}</code></dd>
  </dl>
  <div class="actions">
    <a class="button secondary" href="/">Home</a>
    <a class="button" href="/logto/sign-out">Sign out</a>
  </div>`),
  );
});

app.get('/healthz', (req, res) => {
  res.type('text/plain').send('ok');
});

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${port}`);
});
