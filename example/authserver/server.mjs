// Development-only OpenID Connect authorization server for the token handler demo and the
// end-to-end tests: panva's oidc-provider with two fixed clients, one fixed user, a real login
// form, automatic consent, RP-initiated logout and Curity-style phantom token introspection.
// Everything lives in memory and is lost on exit: the signing key and cookie keys are generated
// at start, and the provider's quick start in-memory adapter stores sessions and tokens.
// DO NOT use it for anything but local development and tests. See README.md.

import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

// oidc-provider 9 warns at import time on any Node.js release older than 22 LTS. Node.js 20 runs
// it fine (checked end to end), so only that one line is filtered out, and only while importing.
const consoleWarn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
  consoleWarn(...args);
};
const { Provider } = await import('oidc-provider');
console.warn = consoleWarn;

// ---------------------------------------------------------------------------------------------
// Settings

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function seconds(name, fallback) {
  const raw = env(name, String(fallback));
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive whole number of seconds, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function size(name, max) {
  const raw = env(name, '0');
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`${name} must be a whole number of bytes from 0 to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function list(name, fallback) {
  return env(name, fallback).split(',').map((s) => s.trim()).filter(Boolean);
}

const HOST = env('HOST', '127.0.0.1');
const PORT = Number(env('PORT', '3000'));
const ISSUER = env('ISSUER', 'http://login.example.localhost:8080');
const SPA_REDIRECT_URIS = list('SPA_REDIRECT_URI', 'http://www.example.localhost:8080/');
const POST_LOGOUT_REDIRECT_URIS = list('POST_LOGOUT_REDIRECT_URI', 'http://www.example.localhost:8080/');
const API_AUDIENCE = env('API_AUDIENCE', 'api.example.localhost');
const ACCESS_TOKEN_TTL = seconds('ACCESS_TOKEN_TTL', 300);
const REFRESH_TOKEN_TTL = seconds('REFRESH_TOKEN_TTL', 8 * 60 * 60);
// Test-only: make the tokens as large as real ones (Entra ID with groups, Keycloak with many
// roles) so that a cookie holding one, encrypted, is over the 4096 bytes a browser keeps. 0 is
// off. At most 16384, the longest bearer token phantomToken accepts.
const PAD_TOKENS = size('PAD_TOKENS', 16 * 1024);

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  throw new Error(`PORT must be a TCP port number, got ${JSON.stringify(process.env.PORT)}`);
}

const SPA_CLIENT_ID = 'spa-client';
const INTROSPECTION_CLIENT_ID = 'api-gateway-client';
// The SPA's web origins, those of its redirect URIs.
const SPA_ORIGINS = SPA_REDIRECT_URIS.map((uri) => new URL(uri).origin);

// With PAD_TOKENS, the ID token (and userinfo) also carries a `pad` claim of 3/4 PAD_TOKENS
// characters: the ID token's payload alone is then PAD_TOKENS characters of base64url.
const PAD_CLAIM = PAD_TOKENS > 0 ? { pad: 'A'.repeat(Math.ceil((PAD_TOKENS * 3) / 4)) } : {};

// The one user. The password is compared through SHA-256 digests, in constant time.
const USERS = new Map([
  ['demouser', {
    password: 'Password1',
    claims: {
      given_name: 'Demo',
      family_name: 'User',
      name: 'Demo User',
      preferred_username: 'demouser',
      ...PAD_CLAIM,
    },
  }],
]);

function checkPassword(username, password) {
  const user = USERS.get(username);
  const digest = (s) => createHash('sha256').update(String(s)).digest();
  const ok = timingSafeEqual(digest(user ? user.password : randomUUID()), digest(password));
  return user !== undefined && ok;
}

// ---------------------------------------------------------------------------------------------
// Keys, generated at start and kept in memory only

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateJwk = privateKey.export({ format: 'jwk' });
// RFC 7638 thumbprint as the key id.
const kid = createHash('sha256')
  .update(JSON.stringify({ e: privateJwk.e, kty: privateJwk.kty, n: privateJwk.n }))
  .digest('base64url');
const signingJwk = { ...privateJwk, kid, alg: 'RS256', use: 'sig' };

function signJwt(header, payload) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part(header)}.${part(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

// ---------------------------------------------------------------------------------------------
// HTML

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:22rem;margin:4rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.3rem;font-weight:500}label{display:block;margin-top:.8rem}
input{box-sizing:border-box;width:100%;padding:.5rem;margin-top:.25rem;font-size:1rem}
button{margin-top:1.2rem;padding:.55rem 1rem;font-size:1rem;cursor:pointer}
#login{background:#2457c5;color:#fff;border:0;border-radius:4px}
#cancel{background:none;border:0;color:#555;text-decoration:underline}
#login-error{color:#b00020}.note{color:#666;font-size:.85rem}`;

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body>
</html>`;
}

function loginPage(uid, { username = '', error = false } = {}) {
  return page('Sign in', `<h1>Sign in</h1>
<form method="post" action="/interaction/${esc(uid)}" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autofocus value="${esc(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
${error ? '<p id="login-error" role="alert">Invalid username or password</p>' : ''}
<button id="login" type="submit" name="action" value="login">Sign in</button>
<button id="cancel" type="submit" name="action" value="cancel">Cancel</button>
</form>
<p class="note">Development authorization server: demouser / Password1</p>`);
}

// ---------------------------------------------------------------------------------------------
// The provider

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: SPA_CLIENT_ID,
      client_secret: 'Password1',
      client_name: 'Token handler demo SPA',
      // oidc-provider accepts client_secret_post too for a client_secret_basic client.
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid profile read',
      redirect_uris: SPA_REDIRECT_URIS,
      post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
      id_token_signed_response_alg: 'RS256',
      // auth_time in every ID token: the SPA shows when the user signed in (from /claims).
      require_auth_time: true,
    },
    {
      // A resource server: it only authenticates at the introspection endpoint.
      client_id: INTROSPECTION_CLIENT_ID,
      client_secret: 'Password1',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },

  // `read` is the API's scope; without resource indicators it is granted like an OIDC scope.
  scopes: ['openid', 'offline_access', 'read'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', ...Object.keys(PAD_CLAIM)],
  },
  // Put the granted profile claims into the ID token as well, so the agent's /claims shows them.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  pkce: { required: () => true },

  async findAccount(ctx, sub) {
    const user = USERS.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, ...user.claims };
      },
    };
  },

  // Automatic consent: the grant a signed-in user needs is created (or extended) on the fly with
  // whatever the request asks for (the provider has already checked it against the client's
  // `scope`), so no consent prompt ever comes up, and prompt=none works whenever a session exists.
  async loadExistingGrant(ctx) {
    const { client, session, result, provider: op } = ctx.oidc;
    const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId);
    let grant = grantId ? await op.Grant.find(grantId) : undefined;
    if (!grant || grant.accountId !== session.accountId) {
      grant = new op.Grant({ clientId: client.clientId, accountId: session.accountId });
    }
    if (ctx.oidc.requestParamOIDCScopes.size) grant.addOIDCScope(ctx.oidc.requestParamOIDCScopes);
    grant.addOIDCClaims(ctx.oidc.requestParamClaims);
    await grant.save();
    return grant;
  },

  // Refresh tokens for the SPA's agent without `offline_access` (and so without prompt=consent):
  // any client allowed the refresh_token grant gets one. Without offline_access the tokens stay
  // bound to the login session, so signing out ends them.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Every refresh rotates: the used refresh token is consumed, and presenting it again is
  // invalid_grant and revokes the whole grant (oidc-provider's reuse detection).
  rotateRefreshToken: true,

  // PAD_TOKENS: access and refresh tokens (opaque, one base64url character per 6 bits) of exactly
  // PAD_TOKENS characters; every other identifier keeps the default 256 bits (43 characters).
  formats: {
    bitsOfOpaqueRandomness: (ctx, token) => (
      PAD_TOKENS > 43 && (token.kind === 'AccessToken' || token.kind === 'RefreshToken') ? PAD_TOKENS * 6 : 256
    ),
  },

  // Everything runs on one clock, so no leeway: an access token is refused at userinfo the moment
  // introspection calls it inactive (the default 15 s tolerance applies to the one, not the other).
  clockTolerance: 0,

  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: 60 * 60,
    RefreshToken: REFRESH_TOKEN_TTL,
    Interaction: 60 * 60,
    Session: 14 * 24 * 60 * 60,
    Grant: 14 * 24 * 60 * 60,
  },

  // The OAuth Agent calls this server without an Origin. The one browser call is userinfo
  // through the OAuth Proxy (the demo's api.example.localhost/oauth-userinfo route), which passes
  // the SPA's Origin on with spa-client's access token: only that is allowed. oidc-provider then
  // adds its own Access-Control-Allow-Origin to the proxy's, and the route's Traefik headers
  // middleware leaves the browser one.
  clientBasedCORS: (ctx, origin, client) => (
    ctx.oidc.route === 'userinfo' && client.clientId === SPA_CLIENT_ID && SPA_ORIGINS.includes(origin)
  ),

  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },

  features: {
    devInteractions: { enabled: false },
    introspection: {
      enabled: true,
      // The API gateway may introspect any token; another client only its own.
      allowedPolicy: async (ctx, client, token) => (
        client.clientId === INTROSPECTION_CLIENT_ID || token.clientId === client.clientId
      ),
    },
    revocation: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // The confirmation form submits itself with logout=yes (end the login session, not only
      // the client's grant), so one navigation to the end-session URL ends at the
      // post_logout_redirect_uri. Without JavaScript a button does the same.
      async logoutSource(ctx, form) {
        const autoForm = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/>'
          + '<noscript><button id="logout" type="submit">Sign out</button></noscript></form>');
        ctx.body = page('Signing out', `<h1>Signing out&hellip;</h1>${autoForm}
<script>document.getElementById('op.logoutForm').submit();</script>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>You are signed out</h1>');
      },
    },
  },

  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Something went wrong</h1>
<p id="error">${esc(out.error)}</p><p id="error-description">${esc(out.error_description)}</p>`);
  },
});

// Koa apps do not trust X-Forwarded-* by default; Traefik sets them.
provider.proxy = true;

provider.on('server_error', (ctx, err) => {
  console.error('server_error', ctx.method, ctx.path, err);
});

// ---------------------------------------------------------------------------------------------
// Middleware, in order: request log, discovery front-channel URLs, phantom token shim, login form

provider.use(async (ctx, next) => {
  try {
    await next();
  } finally {
    // Paths only: query strings carry codes and tokens.
    console.log(`${ctx.method} ${ctx.path} ${ctx.status}`);
  }
});

// Front-channel endpoints always live on the issuer's origin (what the browser reaches through
// Traefik); back-channel endpoints follow the host the discovery document was fetched from. So an
// OAuth Agent that fetches discovery at http://127.0.0.1:3000 gets a token endpoint it can reach
// and an authorization endpoint the browser can reach. Through Traefik both are on the issuer.
const issuerOrigin = new URL(ISSUER).origin;
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route === 'discovery' && ctx.status === 200 && ctx.body) {
    ctx.body.authorization_endpoint = issuerOrigin + provider.pathFor('authorization');
    ctx.body.end_session_endpoint = issuerOrigin + provider.pathFor('end_session');
  }
});

// Curity-style phantom token introspection. With `Accept: application/jwt` an active access token
// is answered 200 with a JWT (signed with the ID token key, so one JWKS serves both) and an
// inactive token (or a refresh token) 204 with no body. Any other Accept gets RFC 7662 JSON, and
// errors (such as a failed client authentication) stay JSON whatever the Accept.
// oidc-provider refuses a JWT-shaped token (any string whose first part decodes as a JOSE header)
// with 400 unsupported_token_type, after authenticating the client. Such a token is simply not
// one of ours: it is answered as inactive (`{"active":false}`, or 204), like any other unknown
// string, so that a client sending `Bearer eyJ...` cannot make the gateway log errors.
const introspectionPath = provider.pathFor('introspection');
provider.use(async (ctx, next) => {
  const introspection = ctx.method === 'POST' && ctx.path === introspectionPath;
  const wantsJwt = introspection
    && ctx.accepts('application/json', 'application/jwt') === 'application/jwt';
  await next();
  if (introspection && ctx.status === 400 && ctx.body?.error === 'unsupported_token_type'
    && ctx.oidc?.client) {
    ctx.status = 200;
    ctx.body = { active: false };
  }
  if (!wantsJwt || ctx.status !== 200 || typeof ctx.body?.active !== 'boolean') return;

  const { active, token_type: tokenType, ...claims } = ctx.body;
  ctx.remove('Pragma');
  if (!active || tokenType === undefined) { // token_type is absent for refresh tokens
    ctx.body = null;
    ctx.status = 204;
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  // The opaque token is its own id, so oidc-provider leaves jti out; a fresh one is used instead.
  const payload = { ...claims, jti: claims.jti ?? randomUUID(), aud: API_AUDIENCE };
  ctx.body = signJwt({ alg: 'RS256', typ: 'at+jwt', kid }, payload);
  ctx.type = 'application/jwt';
  ctx.set('Cache-Control', `max-age=${Math.max(0, payload.exp - now)}`);
});

// Interactions: the login form (consent is automatic, see loadExistingGrant).
async function readForm(req, limit = 16 * 1024) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('request body too large');
  }
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
  if (!match) return next();

  ctx.set('Cache-Control', 'no-store');
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== match[1]) throw new Error('interaction does not match the cookie');
    const finish = async (result) => {
      ctx.status = 303;
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result,
        { mergeWithLastSubmission: false }));
    };
    const { prompt } = details;

    if (prompt.name !== 'login') { // consent never comes up: see loadExistingGrant
      await finish({ error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` });
    } else if (ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, { username: details.params.login_hint });
    } else if (ctx.method === 'POST') {
      const form = await readForm(ctx.req);
      const username = form.get('username') ?? '';
      if (form.get('action') === 'cancel') {
        await finish({ error: 'access_denied', error_description: 'End-User aborted the sign-in' });
      } else if (checkPassword(username, form.get('password') ?? '')) {
        await finish({ login: { accountId: username } });
      } else {
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, { username, error: true });
      }
    } else {
      ctx.status = 405;
      ctx.set('Allow', 'GET, POST');
    }
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Sign-in expired', `<h1>This sign-in can no longer be used</h1>
<p id="error">${esc(err.message)}</p><p>Start again from the application.</p>`);
  }
});

// ---------------------------------------------------------------------------------------------
// Serve

// A padded ID token makes a long end-session URL (id_token_hint): allow more than Node's 16 KB of
// request line and headers then.
const server = createServer(PAD_TOKENS > 0 ? { maxHeaderSize: 64 * 1024 } : {}, provider.callback());
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`authorization server listening on http://${HOST}:${port} issuer ${ISSUER}`
    + (PAD_TOKENS > 0 ? ` (tokens padded to ${PAD_TOKENS} bytes)` : ''));
});

function shutdown(signal) {
  console.log(`${signal} received, shutting down`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, 2000).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
