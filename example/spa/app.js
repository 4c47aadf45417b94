// Entry point of the demo SPA: the page-load flow, the buttons and the tabs' coordination.
//
// The SPA never sees a token. It asks the OAuth Agent (through oauthAgentClient.js, or
// oauthAgentClientV2.js when /config.json says agentApi v2) whether the browser's cookies hold a
// session, and calls the API (through apiClient.js) with those cookies.

import * as agentV1 from './oauthAgentClient.js';
import * as agentV2 from './oauthAgentClientV2.js';
import { HttpError, readResponse } from './oauthAgentClient.js';
import { ApiClient } from './apiClient.js';
import * as views from './views.js';

// Tabs tell each other about sign-in and sign-out on this channel, with a localStorage key as the
// fallback for browsers without BroadcastChannel.
const CHANNEL_NAME = 'token-handler';
const STORAGE_KEY = 'token-handler';
// The page a sign-in started from, to return to after the login (the redirect URI is the home page).
const RETURN_PATH_KEY = 'token-handler-return-path';
// The query parameters of an authorization response (RFC 6749 §4.1.2, RFC 9207's iss, OIDC
// session management's session_state), removed from the address bar once handled.
const AUTH_RESPONSE_PARAMS = ['code', 'state', 'iss', 'session_state', 'error', 'error_description', 'error_uri'];
// Focus and visibility changes re-check the session at most this often.
const SYNC_MIN_INTERVAL_MS = 2000;

// The OAuth Agent client of the API that /config.json names; both export the same functions.
const AGENT_CLIENTS = { v1: agentV1, v2: agentV2 };

let agent = agentV1;
let api = null;
let signedIn = false;
let pageLoaded = false; // the first /login/end has answered
let busy = false; // a button's request is running
let navigating = false; // leaving for the authorization server
let channel = null;
let lastMessageId = null;
let syncInFlight = null;
let lastSync = 0;

main();

async function main() {
  views.bind({ signIn, getData, postData, refreshToken, signOut });
  views.showLoading();
  try {
    const config = await loadConfig();
    agent = AGENT_CLIENTS[config.agentApi];
    agent.configure(config.oauthAgentUrl, config.userInfoUrl);
    api = new ApiClient(config.apiUrl, agent);
    views.showEndpoints(config.oauthAgentUrl, config.apiUrl, config.agentApi);
  } catch (e) {
    views.showError(e);
    showSignedOutState();
    return;
  }
  await handlePageLoad();
  pageLoaded = true;
  listenToOtherTabs();
}

async function loadConfig() {
  let response;
  try {
    response = await fetch('/config.json', { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (e) {
    throw new HttpError(0, 'network_error', `The configuration could not be loaded (${e.message})`);
  }
  const config = await readResponse(response, 'The web host');
  if (typeof config?.oauthAgentUrl !== 'string' || typeof config?.apiUrl !== 'string') {
    throw new HttpError(response.status, 'invalid_configuration', '/config.json lacks oauthAgentUrl or apiUrl');
  }
  // A web host from before agentApi existed serves v1 SPAs.
  const agentApi = config.agentApi ?? 'v1';
  if (!Object.hasOwn(AGENT_CLIENTS, agentApi)) {
    throw new HttpError(response.status, 'invalid_configuration', `/config.json names an unknown agentApi ${agentApi}`);
  }
  if (agentApi === 'v2' && typeof config.userInfoUrl !== 'string') {
    throw new HttpError(response.status, 'invalid_configuration', '/config.json lacks the userInfoUrl that agentApi v2 needs');
  }
  return { ...config, agentApi };
}

// ---- Page load ---------------------------------------------------------------------------------

/**
 * Runs on every page load, including the return from the authorization server: /login/end
 * completes a login when the URL holds an authorization response, and otherwise reports whether
 * the cookies hold a session (v2 asks /session for that), which is why reloads and deep links keep
 * the session.
 */
async function handlePageLoad() {
  const isAuthResponse = hasAuthResponse();
  let result;
  try {
    result = await agent.endLogin(location.href);
  } catch (e) {
    views.showError(e);
    if (!isAuthResponse) {
      showSignedOutState();
      return;
    }
    // The authorization response failed (access denied at the server, or an old response
    // reloaded): drop it from the address bar, so that a reload does not repeat the error, and
    // ask again, so that the view shows the real session state. The error stays on screen.
    sessionStorage.removeItem(RETURN_PATH_KEY);
    removeAuthResponse();
    try {
      result = await agent.endLogin(location.href);
    } catch (e2) {
      views.showError(e2);
      showSignedOutState();
      return;
    }
  }

  if (result.handled) {
    removeAuthResponse(takeReturnPath());
    broadcast('signed-in');
  }
  if (result.isLoggedIn) {
    await showSignedInState();
  } else {
    showSignedOutState();
  }
}

function hasAuthResponse() {
  const query = new URLSearchParams(location.search);
  return query.has('state') && (query.has('code') || query.has('error'));
}

/** The page's URL without the authorization response parameters. */
function cleanPageUrl() {
  const url = new URL(location.href);
  for (const name of AUTH_RESPONSE_PARAMS) {
    url.searchParams.delete(name);
  }
  return url;
}

/** Removes the authorization response from the address bar (and its history entry), keeping the path. */
function removeAuthResponse(path) {
  const url = cleanPageUrl();
  history.replaceState(history.state, '', path || url.pathname + url.search + url.hash);
}

function takeReturnPath() {
  const path = sessionStorage.getItem(RETURN_PATH_KEY);
  sessionStorage.removeItem(RETURN_PATH_KEY);
  // Only a path on this origin: "//host" would be another origin.
  return path && path.startsWith('/') && !path.startsWith('//') ? path : null;
}

// ---- Session state -----------------------------------------------------------------------------

/** Reads the user's name and the ID token claims, then shows the signed-in view. */
async function showSignedInState() {
  signedIn = true;
  const [userInfo, claims] = await Promise.allSettled([
    withTokenRefresh(() => agent.getUserInfo()),
    agent.getClaims(),
  ]);
  const failure = [userInfo, claims].find((r) => r.status === 'rejected');
  if (failure) {
    views.showError(failure.reason);
    if (endsSession(failure.reason)) {
      showSignedOutState();
      return;
    }
  }
  views.showSignedIn(
    userInfo.status === 'fulfilled' ? userInfo.value : null,
    claims.status === 'fulfilled' ? claims.value : null,
  );
  views.showTokenExpiry(agent.accessTokenExpiresIn());
}

function showSignedOutState() {
  signedIn = false;
  agent.forgetSession();
  views.showSignedOut();
}

/**
 * The v1 agent answers /userInfo with 401 token_expired when the authorization server rejects the
 * access token: refresh it once and try again. (The v2 client refreshes on its own: its userinfo
 * comes through the OAuth Proxy, whose 401s carry no such code.)
 */
async function withTokenRefresh(send) {
  try {
    return await send();
  } catch (e) {
    if (!(e instanceof HttpError && e.status === 401 && e.code === 'token_expired')) {
      throw e;
    }
  }
  await agent.refresh();
  return send();
}

/**
 * Whether an error means there is no usable session any more: a 401 from the agent
 * (session_expired, unauthorized_request, or token_expired after a refresh) or from the API after
 * a refresh.
 */
function endsSession(error) {
  return error instanceof HttpError && error.status === 401;
}

// ---- Buttons -----------------------------------------------------------------------------------

/** Runs a button's action: one at a time, errors shown (never swallowed), 401s sign out. */
async function run(action) {
  if (busy) {
    return;
  }
  busy = true;
  views.setBusy(true);
  views.clearError();
  views.clearNotice();
  try {
    if (!api) {
      throw new HttpError(0, 'invalid_configuration', 'The SPA has no configuration; reload the page');
    }
    await action();
  } catch (e) {
    views.showError(e);
    if (endsSession(e)) {
      showSignedOutState();
    }
  } finally {
    if (!navigating) {
      busy = false;
      views.setBusy(false);
    }
  }
}

function navigate(url) {
  navigating = true;
  location.assign(url);
}

function signIn() {
  return run(async () => {
    const url = cleanPageUrl();
    sessionStorage.setItem(RETURN_PATH_KEY, url.pathname + url.search + url.hash);
    navigate(await agent.startLogin());
  });
}

function getData() {
  return run(async () => {
    views.clearApiResult();
    views.showApiResult(await api.getData(), 'GET');
    views.showTokenExpiry(agent.accessTokenExpiresIn());
  });
}

function postData() {
  return run(async () => {
    views.clearApiResult();
    views.showApiResult(await api.postData(), 'POST');
    views.showTokenExpiry(agent.accessTokenExpiresIn());
  });
}

function refreshToken() {
  return run(async () => {
    await agent.refresh();
    views.showTokenExpiry(agent.accessTokenExpiresIn());
    views.showNotice(`The access token was refreshed at ${new Date().toLocaleTimeString()}.`);
  });
}

function signOut() {
  return run(async () => {
    let url;
    try {
      url = await agent.logout();
    } catch (e) {
      if (endsSession(e)) {
        // The session was already over; the other tabs should know too.
        broadcast('signed-out');
      }
      throw e;
    }
    // The /logout response has cleared the cookies, so the other tabs' /login/end now reports
    // signed-out. Then end the session at the authorization server, which returns to the home
    // page; a v2 agent without an end-session endpoint returns no URL, and the sign-out is done.
    broadcast('signed-out');
    if (url) {
      navigate(url);
    } else {
      showSignedOutState();
    }
  });
}

// ---- Other tabs --------------------------------------------------------------------------------

function getChannel() {
  if (!channel && typeof BroadcastChannel === 'function') {
    channel = new BroadcastChannel(CHANNEL_NAME);
  }
  return channel;
}

/** Tells the other tabs of this origin that the session changed: {type: 'signed-in' | 'signed-out'}. */
function broadcast(type) {
  const message = { type, id: `${Date.now()}-${Math.random().toString(36).slice(2)}` };
  getChannel()?.postMessage(message);
  try {
    // The storage event fires in the other tabs only when the value changes; the id makes sure it does.
    localStorage.setItem(STORAGE_KEY, JSON.stringify(message));
  } catch {
    // Storage disabled: BroadcastChannel alone has to do.
  }
}

function listenToOtherTabs() {
  getChannel()?.addEventListener('message', (event) => onTabMessage(event.data));
  window.addEventListener('storage', (event) => {
    if (event.key !== STORAGE_KEY || !event.newValue) {
      return;
    }
    try {
      onTabMessage(JSON.parse(event.newValue));
    } catch {
      // Not one of our messages.
    }
  });
  // A tab may have signed in or out elsewhere while this one was in the background.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      syncWithCookies();
    }
  });
  window.addEventListener('focus', () => syncWithCookies());
  // Coming back with the Back button restores this page from the back/forward cache as it was
  // left: possibly busy, on the way to the authorization server.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) {
      navigating = false;
      busy = false;
      views.setBusy(false);
      syncWithCookies({ force: true });
    }
  });
}

function onTabMessage(message) {
  if (message?.type !== 'signed-in' && message?.type !== 'signed-out') {
    return;
  }
  // The same message can come twice: once per channel.
  if (message.id && message.id === lastMessageId) {
    return;
  }
  lastMessageId = message.id ?? null;
  syncWithCookies({ force: true });
}

/**
 * Asks /login/end (v2: /session) whether the cookies still hold a session and updates the view
 * when the answer differs from what this tab shows. Calls are coalesced and, unless forced,
 * rate-limited.
 */
function syncWithCookies({ force = false } = {}) {
  if (!pageLoaded || navigating || (busy && !force)) {
    return Promise.resolve();
  }
  if (!force && Date.now() - lastSync < SYNC_MIN_INTERVAL_MS) {
    return Promise.resolve();
  }
  if (!syncInFlight) {
    syncInFlight = doSync().finally(() => {
      syncInFlight = null;
      lastSync = Date.now();
    });
  }
  return syncInFlight;
}

async function doSync() {
  try {
    // The clean URL: an authorization response must be handled once, by the page load.
    const { isLoggedIn } = await agent.endLogin(cleanPageUrl().href);
    if (isLoggedIn && !signedIn) {
      views.clearError();
      await showSignedInState();
    } else if (isLoggedIn) {
      views.showTokenExpiry(agent.accessTokenExpiresIn());
    } else if (signedIn) {
      showSignedOutState();
      views.showNotice('You were signed out in another tab or window.');
    }
  } catch (e) {
    views.showError(e);
    if (endsSession(e)) {
      showSignedOutState();
    }
  }
}
