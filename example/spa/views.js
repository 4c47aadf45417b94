// Everything that touches the DOM. Values from the servers are always set as text, never as HTML.

const $ = (id) => document.getElementById(id);

const VIEWS = ['loading-view', 'signed-out-view', 'signed-in-view'];
const BUTTONS = ['sign-in', 'get-data', 'post-data', 'refresh-token', 'sign-out'];

function showView(id, status) {
  for (const view of VIEWS) {
    $(view).hidden = view !== id;
  }
  const el = $('status');
  el.textContent = status;
  el.dataset.state = status;
}

/** Wires the buttons to the handlers: {signIn, getData, postData, refreshToken, signOut}. */
export function bind(handlers) {
  $('sign-in').addEventListener('click', handlers.signIn);
  $('get-data').addEventListener('click', handlers.getData);
  $('post-data').addEventListener('click', handlers.postData);
  $('refresh-token').addEventListener('click', handlers.refreshToken);
  $('sign-out').addEventListener('click', handlers.signOut);
}

export function showEndpoints(agentUrl, apiUrl, agentApi) {
  $('agent-url').textContent = agentUrl;
  $('api-url').textContent = apiUrl;
  $('agent-api').textContent = agentApi;
}

export function showLoading() {
  showView('loading-view', 'loading');
}

export function showSignedOut() {
  $('user-name').textContent = '';
  $('auth-time').textContent = '';
  $('auth-time').removeAttribute('datetime');
  showTokenExpiry(null);
  clearApiResult();
  clearNotice();
  showView('signed-out-view', 'signed-out');
}

/**
 * Shows the signed-in view. userInfo and claims may be null when they could not be read (the
 * error is shown separately).
 */
export function showSignedIn(userInfo, claims) {
  $('user-name').textContent = displayName(userInfo, claims);
  const authTime = $('auth-time');
  const seconds = Number(claims?.auth_time);
  if (Number.isFinite(seconds) && seconds > 0) {
    const date = new Date(seconds * 1000);
    authTime.dateTime = date.toISOString();
    authTime.textContent = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  } else {
    authTime.removeAttribute('datetime');
    authTime.textContent = 'unknown';
  }
  showView('signed-in-view', 'signed-in');
}

function displayName(userInfo, claims) {
  for (const source of [userInfo, claims]) {
    if (!source) {
      continue;
    }
    const full = [source.given_name, source.family_name].filter((s) => typeof s === 'string' && s).join(' ');
    const name = full || source.name || source.preferred_username;
    if (typeof name === 'string' && name) {
      return name;
    }
  }
  return userInfo?.sub || claims?.sub || 'unknown user';
}

/**
 * Shows when the access token expires, from the seconds it has left (the OAuth Agent's v2 API
 * says); null (v1, or an agent that does not know) hides the line. The seconds stay in
 * data-expires-in.
 */
export function showTokenExpiry(seconds) {
  const row = $('token-expiry-row');
  const el = $('token-expiry');
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    row.hidden = true;
    el.textContent = '';
    el.removeAttribute('datetime');
    el.removeAttribute('title');
    delete el.dataset.expiresIn;
    return;
  }
  const date = new Date(Date.now() + seconds * 1000);
  el.dateTime = date.toISOString();
  el.dataset.expiresIn = String(seconds);
  el.textContent = date.toLocaleTimeString(undefined, { timeStyle: 'medium' });
  // A count of seconds on screen would go stale; the time does not.
  el.title = `${seconds} s left at ${new Date().toLocaleTimeString(undefined, { timeStyle: 'medium' })}`;
  row.hidden = false;
}

/** Shows the API's answer to a method's call: its message, and who and what the token was for. */
export function showApiResult(data, method) {
  const el = $('api-result');
  el.replaceChildren();
  const message = document.createElement('p');
  message.className = 'result-message';
  message.textContent = String(data?.message ?? '');
  const facts = document.createElement('dl');
  facts.className = 'facts';
  const request = method ? `${method} /data` : undefined;
  for (const [label, value] of [['Request', request], ['Subject', data?.sub], ['Scope', data?.scope], ['Time', data?.time]]) {
    if (value === undefined) {
      continue;
    }
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = String(value);
    facts.append(dt, dd);
  }
  el.append(message, facts);
  el.hidden = false;
}

export function clearApiResult() {
  $('api-result').replaceChildren();
  $('api-result').hidden = true;
}

export function showNotice(text) {
  $('notice').textContent = text;
  $('notice').hidden = false;
}

export function clearNotice() {
  $('notice').textContent = '';
  $('notice').hidden = true;
}

/** Shows an error's code and message (HttpError, or any other Error). */
export function showError(error) {
  const el = $('error');
  const code = document.createElement('span');
  code.className = 'error-code';
  code.textContent = error?.code || error?.name || 'error';
  el.replaceChildren(code, document.createTextNode(': ' + (error?.message || String(error))));
  el.hidden = false;
}

export function clearError() {
  $('error').replaceChildren();
  $('error').hidden = true;
}

/** Disables the buttons while a request runs, so that a double click sends one request. */
export function setBusy(busy) {
  for (const id of BUTTONS) {
    $(id).disabled = busy;
  }
}
