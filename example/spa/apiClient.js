// Client for the business API, reached through Traefik's bff-token and phantom-token middlewares.
//
// The browser sends the access token cookie (credentials: 'include'); the middlewares turn it into
// a JWT for the API. When the API answers 401 the access token has probably expired: the client
// asks the OAuth Agent to refresh it, once, and retries the call once.

import { HttpError, readResponse, refresh } from './oauthAgentClient.js';

// Only GET is used here. A POST, PUT, PATCH or DELETE would also need the x-example-csrf header
// (bff-token's double-submit check), with the CSRF token that oauthAgentClient.js holds.

export class ApiClient {
  #baseUrl;

  constructor(apiUrl) {
    this.#baseUrl = String(apiUrl).replace(/\/+$/, '');
  }

  /** GET /data: {message, sub, scope, time}. */
  getData() {
    return this.#withRefresh(() => this.#get('/data'));
  }

  async #withRefresh(send) {
    try {
      return await send();
    } catch (e) {
      if (!(e instanceof HttpError) || e.status !== 401) {
        throw e;
      }
    }

    try {
      await refresh();
    } catch (e) {
      if (e instanceof HttpError) {
        throw new HttpError(e.status, e.code,
          `The API rejected the access token, and refreshing it failed: ${e.message}`);
      }
      throw e;
    }

    try {
      return await send();
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) {
        throw new HttpError(401, e.code,
          `The API rejected the access token again after a token refresh: ${e.message}`);
      }
      throw e;
    }
  }

  async #get(path) {
    let response;
    try {
      response = await fetch(this.#baseUrl + path, {
        method: 'GET',
        headers: { accept: 'application/json' },
        credentials: 'include',
        mode: 'cors',
      });
    } catch (e) {
      throw new HttpError(0, 'network_error', `The API could not be reached (${e.message})`);
    }
    return readResponse(response, 'The API');
  }
}
