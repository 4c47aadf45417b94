// Client for the business API, reached through Traefik's bff-token and phantom-token middlewares.
//
// The browser sends the access token cookie (credentials: 'include'); the middlewares turn it into
// a JWT for the API. When the API answers 401 the access token has probably expired: the client
// asks the OAuth Agent to refresh it, once, and retries the call once.

import { HttpError, readResponse } from './oauthAgentClient.js';

export class ApiClient {
  #baseUrl;
  #agent;

  /**
   * agent is the OAuth Agent client (oauthAgentClient.js or oauthAgentClientV2.js): it refreshes
   * the access token and knows the headers bff-token needs (v1: the CSRF header on writes; v2:
   * the token-handler-version header).
   */
  constructor(apiUrl, agent) {
    this.#baseUrl = String(apiUrl).replace(/\/+$/, '');
    this.#agent = agent;
  }

  /** GET /data: {message, sub, scope, time}. */
  getData() {
    return this.#withRefresh(() => this.#send('GET', '/data'));
  }

  /** POST /data, as Curity's example SPAs call it: the same answer as GET. */
  postData() {
    return this.#withRefresh(() => this.#send('POST', '/data'));
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
      await this.#agent.refresh();
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

  async #send(method, path) {
    let response;
    try {
      response = await fetch(this.#baseUrl + path, {
        method,
        headers: { accept: 'application/json', ...this.#agent.apiHeaders(method) },
        credentials: 'include',
        mode: 'cors',
      });
    } catch (e) {
      throw new HttpError(0, 'network_error', `The API could not be reached (${e.message})`);
    }
    return readResponse(response, 'The API');
  }
}
