// The REST API client: one function per operation of openapi.json, by its
// operationId, with the same method and path (a test checks them against
// the document). Every call takes an AbortSignal, so that a page's calls
// stop when you leave it.

import { session, csrfToken } from './session.js';

// operations: operationId → [method, path template].
export const operations = {
  listWebhooks: ['GET', '/v1/webhooks'],
  createWebhook: ['POST', '/v1/webhooks'],
  getWebhook: ['GET', '/v1/webhooks/{id}'],
  patchWebhook: ['PATCH', '/v1/webhooks/{id}'],
  deleteWebhook: ['DELETE', '/v1/webhooks/{id}'],
  getSecret: ['GET', '/v1/webhooks/{id}/secret'],
  rotateSecret: ['POST', '/v1/webhooks/{id}/rotate-secret'],
  testWebhook: ['POST', '/v1/webhooks/{id}/test'],
  acknowledgePause: ['POST', '/v1/webhooks/{id}/acknowledge-pause'],
  listDeliveries: ['GET', '/v1/webhooks/{id}/deliveries'],
  recoverWebhook: ['POST', '/v1/webhooks/{id}/recover'],
  webhookStats: ['GET', '/v1/webhooks/{id}/stats'],
  getDelivery: ['GET', '/v1/deliveries/{id}'],
  retryDelivery: ['POST', '/v1/deliveries/{id}/retry'],
  eventTypes: ['GET', '/v1/event-types'],
  exchangePortalCode: ['POST', '/v1/portal/exchange'],
  portalSession: ['GET', '/v1/portal/session'],
  portalSignOut: ['POST', '/v1/portal/sign-out'],
};

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// call runs one operation: params fill the path ({id}); query is added as
// the query string (empty values left out); body is sent as JSON.
export async function call(operation, { params = {}, query = {}, body, signal, key } = {}) {
  const [method, template] = operations[operation];
  let path = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  if ([...q].length) path += '?' + q;
  // An API key signs in with its header; a portal session with its
  // cookies, each change carrying the CSRF token.
  const opts = { method, signal, credentials: 'same-origin', headers: {} };
  const bearer = key || session.key();
  if (bearer) opts.headers.Authorization = 'Bearer ' + bearer;
  else if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrfToken();
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    const msg = data && data.error && data.error.message ? data.error.message : 'HTTP ' + res.status;
    throw new APIError(res.status, msg);
  }
  return data;
}

// allWebhooks reads every page of the workspace's webhooks.
export async function allWebhooks(signal) {
  const hooks = [];
  let cursor = null;
  do {
    const page = await call('listWebhooks', { query: { limit: 100, cursor }, signal });
    hooks.push(...page.webhooks.items);
    cursor = page.webhooks.nextCursor;
  } while (cursor);
  return hooks;
}
