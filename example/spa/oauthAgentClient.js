// Client for the OAuth Agent's API (Curity's v1 token handler API).
//
// The agent keeps every token in HttpOnly cookies that this code can neither read nor send
// explicitly: each call only asks the browser to include the cookies (credentials: 'include').
// The one secret the SPA holds is the CSRF token, returned by /login/end and kept in memory.

// The agent's cookie name prefix is "example", so the CSRF header is x-example-csrf.
const CSRF_HEADER = 'x-example-csrf';

let baseUrl = '';

// In memory only: after a reload, /login/end returns it again (from the -csrf cookie).
let csrf = null;

// Concurrent refreshes share one request: the authorization server may rotate the refresh token,
// and sending the old one twice could end the session.
let refreshInFlight = null;

/** An error answer from the agent or the API: HTTP status plus the JSON body's code and message. */
export class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

export function configure(oauthAgentUrl) {
  baseUrl = String(oauthAgentUrl).replace(/\/+$/, '');
}

/**
 * Reads a fetch response: the JSON body on success (null for 204 or an empty body), an HttpError
 * otherwise. `who` names the server in messages for answers that are not JSON.
 */
export async function readResponse(response, who) {
  const text = response.status === 204 ? '' : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.ok) {
    if (text && data === null) {
      throw new HttpError(response.status, 'invalid_response', `${who} sent a response that is not JSON`);
    }
    return data;
  }
  const code = typeof data?.code === 'string' ? data.code : `http_${response.status}`;
  const message = typeof data?.message === 'string'
    ? data.message
    : `${who} answered ${response.status} ${response.statusText}`.trim();
  throw new HttpError(response.status, code, message);
}

async function call(method, path, { body, withCsrf = false } = {}) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'include', mode: 'cors' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (withCsrf && csrf) {
    headers[CSRF_HEADER] = csrf;
  }
  let response;
  try {
    response = await fetch(baseUrl + path, init);
  } catch (e) {
    // fetch rejects on network failures and on CORS refusals alike; the browser hides which.
    throw new HttpError(0, 'network_error', `The OAuth Agent could not be reached (${e.message})`);
  }
  return readResponse(response, 'The OAuth Agent');
}

/** POST /login/start: returns the authorization server URL to navigate to. */
export async function startLogin() {
  const data = await call('POST', '/login/start', { body: {} });
  const url = data?.authorizationRequestUrl;
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
    throw new HttpError(200, 'invalid_response', 'The OAuth Agent returned no authorization request URL');
  }
  return url;
}

/**
 * POST /login/end, on every page load: completes a login when pageUrl holds an authorization
 * response, and reports whether the cookies hold a session. Returns {handled, isLoggedIn}.
 */
export async function endLogin(pageUrl) {
  const data = await call('POST', '/login/end', { body: { pageUrl } });
  const handled = data?.handled === true;
  const isLoggedIn = data?.isLoggedIn === true;
  csrf = isLoggedIn && typeof data?.csrf === 'string' && data.csrf ? data.csrf : null;
  return { handled, isLoggedIn };
}

/** GET /userInfo: the authorization server's userinfo JSON. */
export function getUserInfo() {
  return call('GET', '/userInfo');
}

/** GET /claims: the ID token's claims. */
export function getClaims() {
  return call('GET', '/claims');
}

/** POST /refresh: the agent gets a new access token with the refresh token cookie (204). */
export function refresh() {
  if (!refreshInFlight) {
    refreshInFlight = call('POST', '/refresh', { withCsrf: true }).finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/** POST /logout: the agent clears the cookies and returns the end-session URL to navigate to. */
export async function logout() {
  const data = await call('POST', '/logout', { withCsrf: true });
  csrf = null;
  const url = data?.url;
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
    throw new HttpError(200, 'invalid_response', 'The OAuth Agent returned no logout URL');
  }
  return url;
}

/** Forgets the CSRF token, when the session is known to be over. */
export function forgetSession() {
  csrf = null;
}

/**
 * The headers the OAuth Proxy needs on an API call: the CSRF header on every method but GET and
 * HEAD (bff-token's double-submit check), none on those.
 */
export function apiHeaders(method) {
  return method === 'GET' || method === 'HEAD' || !csrf ? {} : { [CSRF_HEADER]: csrf };
}

/** The v1 API does not say when the access token expires. */
export function accessTokenExpiresIn() {
  return null;
}
