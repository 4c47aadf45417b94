// Client for the OAuth Agent's v2 API (Curity's current token handler API, as its browser library
// @curity/token-handler-js-assistant speaks it), with the same functions as oauthAgentClient.js,
// so that app.js works with either.
//
// What differs from v1: every call carries the token-handler-version header instead of a CSRF
// token (the custom header forces a CORS preflight, which a foreign site cannot pass); request
// bodies are form-encoded; answers are snake_case, and errors carry error_code and
// detailed_error. The page load asks /login/end only for an authorization response and /session
// otherwise, and both return the ID token's claims, so there is no /claims. There is no /userInfo
// either: the authorization server's userinfo endpoint is called through the OAuth Proxy, which
// turns the access token cookie into a bearer token, as for the API.

import { HttpError, readResponse } from './oauthAgentClient.js';

export { HttpError, readResponse };

const VERSION_HEADER = 'token-handler-version';
const VERSION = '1';

let baseUrl = '';
let userInfoUrl = '';

// What the last /login/end, /session or /refresh said: the ID token's claims, and when the access
// token expires (a Date.now() value; null when the agent does not know).
let idTokenClaims = null;
let accessTokenExpiresAt = null;

// Concurrent refreshes share one request: the authorization server may rotate the refresh token,
// and sending the old one twice could end the session.
let refreshInFlight = null;

export function configure(oauthAgentUrl, oauthUserInfoUrl) {
  baseUrl = String(oauthAgentUrl).replace(/\/+$/, '');
  userInfoUrl = String(oauthUserInfoUrl ?? '');
}

/**
 * Reads an answer of the agent: the JSON body on success, an HttpError with the body's error_code
 * and detailed_error otherwise (or, from something other than the agent, such as a proxy in
 * front of it, its code and message, or its status).
 */
async function readAgentResponse(response) {
  if (response.ok) {
    return readResponse(response, 'The OAuth Agent');
  }
  let data = null;
  try {
    data = JSON.parse(await response.text());
  } catch {
    data = null;
  }
  const code = [data?.error_code, data?.code].find((c) => typeof c === 'string' && c) ?? `http_${response.status}`;
  const message = [data?.detailed_error, data?.message].find((m) => typeof m === 'string' && m)
    ?? `The OAuth Agent answered ${response.status} ${response.statusText}`.trim();
  throw new HttpError(response.status, code, message);
}

async function call(method, path, { body } = {}) {
  const headers = { accept: 'application/json', [VERSION_HEADER]: VERSION };
  const init = { method, headers, credentials: 'include', mode: 'cors' };
  if (body !== undefined && body.toString() !== '') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = body;
  }
  let response;
  try {
    response = await fetch(baseUrl + path, init);
  } catch (e) {
    // fetch rejects on network failures and on CORS refusals alike; the browser hides which.
    throw new HttpError(0, 'network_error', `The OAuth Agent could not be reached (${e.message})`);
  }
  return readAgentResponse(response);
}

function rememberExpiry(data) {
  const seconds = data?.access_token_expires_in;
  accessTokenExpiresAt = typeof seconds === 'number' && Number.isFinite(seconds)
    ? Date.now() + seconds * 1000
    : null;
}

function rememberSession(data) {
  const isLoggedIn = data?.is_logged_in === true;
  idTokenClaims = isLoggedIn && data?.id_token_claims && typeof data.id_token_claims === 'object'
    ? data.id_token_claims
    : null;
  rememberExpiry(isLoggedIn ? data : null);
  return isLoggedIn;
}

/**
 * Whether a page URL is an authorization response, as Curity's library decides it: code and
 * state, error and state, or a JARM response alone.
 */
function isAuthorizationResponse(url) {
  const query = url.searchParams;
  return (query.has('state') && (query.has('code') || query.has('error')))
    || (query.has('response') && [...query.keys()].length === 1);
}

/** POST /login/start: returns the authorization server URL to navigate to. */
export async function startLogin() {
  const data = await call('POST', '/login/start');
  const url = data?.authorization_url;
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
    throw new HttpError(200, 'invalid_response', 'The OAuth Agent returned no authorization URL');
  }
  return url;
}

/**
 * On every page load: POST /login/end with the page's query parameters when pageUrl holds an
 * authorization response, else GET /session. Returns {handled, isLoggedIn}, as the v1 client does.
 */
export async function endLogin(pageUrl) {
  const url = new URL(pageUrl);
  const handled = isAuthorizationResponse(url);
  const data = handled
    ? await call('POST', '/login/end', { body: new URLSearchParams(url.search) })
    : await call('GET', '/session');
  return { handled, isLoggedIn: rememberSession(data) };
}

/**
 * GET the authorization server's userinfo through the OAuth Proxy. The proxy answers 401 without
 * a usable access token cookie, and the authorization server 401 once the access token has
 * expired: either way, refresh once and try again.
 */
export async function getUserInfo() {
  try {
    return await fetchUserInfo();
  } catch (e) {
    if (!(e instanceof HttpError) || e.status !== 401) {
      throw e;
    }
  }
  await refresh();
  return fetchUserInfo();
}

async function fetchUserInfo() {
  let response;
  try {
    response = await fetch(userInfoUrl, {
      method: 'GET',
      headers: { accept: 'application/json', ...apiHeaders('GET') },
      credentials: 'include',
      mode: 'cors',
    });
  } catch (e) {
    throw new HttpError(0, 'network_error', `The userinfo endpoint could not be reached (${e.message})`);
  }
  return readResponse(response, 'The userinfo endpoint');
}

/** The ID token's claims, as the last /login/end or /session returned them. */
export async function getClaims() {
  return idTokenClaims;
}

/** POST /refresh: the agent gets a new access token with the refresh token cookie. */
export function refresh() {
  if (!refreshInFlight) {
    refreshInFlight = call('POST', '/refresh').then((data) => {
      rememberExpiry(data);
      return data;
    }).finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/**
 * POST /logout: the agent clears the cookies and returns the end-session URL to navigate to, or
 * null when the authorization server has no end-session endpoint.
 */
export async function logout() {
  const data = await call('POST', '/logout');
  forgetSession();
  const url = data?.logout_url;
  if (url === undefined || url === null) {
    return null;
  }
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
    throw new HttpError(200, 'invalid_response', 'The OAuth Agent returned a logout URL that is not one');
  }
  return url;
}

/** Forgets what this client knows of the session, when it is known to be over. */
export function forgetSession() {
  idTokenClaims = null;
  accessTokenExpiresAt = null;
}

/** The headers the OAuth Proxy needs on an API call: the version header, on every method. */
export function apiHeaders() {
  return { [VERSION_HEADER]: VERSION };
}

/** Seconds until the access token expires (0 once it has), or null when unknown. */
export function accessTokenExpiresIn() {
  if (accessTokenExpiresAt === null) {
    return null;
  }
  return Math.max(0, Math.round((accessTokenExpiresAt - Date.now()) / 1000));
}
