'use strict';

// The dashboard: every action is a call to the public REST API with the
// signed-in key. User-supplied text is only ever set as textContent.

const $ = (sel, root = document) => root.querySelector(sel);
const KEY = 'tidyhooks.apiKey';

const state = {
  key: sessionStorage.getItem(KEY) || '',
  catalog: null,
  webhook: null,       // the webhook shown in detail
  editing: null,       // the webhook being edited; null for a new one
  cursor: null,        // next page of deliveries
};

// el builds an element: el('td', {class: 'x'}, 'text', child…).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + state.key } };
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

function show(view) {
  for (const id of ['signin', 'webhooks', 'editor', 'detail']) $('#' + id).hidden = id !== view;
  $('#sign-out').hidden = view === 'signin';
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

function statusBadge(status) {
  return el('span', { class: 'status ' + String(status).toLowerCase() }, status);
}

function workflowLink(url, label) {
  if (!url) return null;
  return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'workflow' }, label || 'Workflow');
}

// Failures of an action are shown where the action was taken; a key that
// stopped working sends the user back to sign in.
function failed(target, err) {
  if (err instanceof APIError && err.status === 401) {
    signOut('Your API key is no longer valid. Sign in again.');
    return;
  }
  $(target).textContent = err.message;
  $(target).className = 'error';
}

// say shows the outcome of an action: neutral, 'ok' or 'error'.
function say(text, cls) {
  const out = $('#action-result');
  out.textContent = text;
  out.className = cls || '';
}

// ---- sign in ----

async function signIn(key) {
  state.key = key;
  try {
    await api('GET', '/v1/webhooks?limit=1');
    state.catalog = await api('GET', '/v1/event-types');
  } catch (err) {
    state.key = '';
    sessionStorage.removeItem(KEY);
    let msg = err.message;
    if (err.status === 401) msg = 'That API key is not valid.';
    if (err.status === 403) msg = 'That API key cannot manage webhooks: it lacks the api_user scope.';
    show('signin');
    $('#signin-error').textContent = msg;
    return;
  }
  sessionStorage.setItem(KEY, key);
  $('#signin-error').textContent = '';
  await showList();
}

function signOut(message) {
  state.key = '';
  sessionStorage.removeItem(KEY);
  $('#api-key').value = '';
  $('#signin-error').textContent = message || '';
  show('signin');
}

// ---- webhook list ----

async function showList() {
  show('webhooks');
  $('#list-error').textContent = '';
  const body = $('#webhook-table tbody');
  try {
    const hooks = [];
    let cursor = null;
    do {
      const page = await api('GET', '/v1/webhooks?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      hooks.push(...page.webhooks.items);
      cursor = page.webhooks.nextCursor;
    } while (cursor);
    body.replaceChildren(...hooks.map((w) => {
      const open = el('a', { href: '#', class: 'open' }, w.displayName || w.id);
      open.addEventListener('click', (e) => { e.preventDefault(); openDetail(w.id); });
      return el('tr', { 'data-id': w.id },
        el('td', {}, open),
        el('td', { class: 'mono' }, w.url),
        el('td', {}, statusBadge(w.status)),
        el('td', {}, w.events.join(', ')),
        el('td', { class: 'error' }, w.lastErrorMessage ? w.lastErrorMessage + ' (' + when(w.lastErrorAt) + ')' : ''));
    }));
    $('#no-webhooks').hidden = hooks.length > 0;
  } catch (err) {
    failed('#list-error', err);
  }
}

// ---- editor ----

function renderFamilies() {
  const root = $('#families');
  root.replaceChildren(...state.catalog.families.map((f) => {
    const family = el('input', { type: 'checkbox', 'data-pattern': f.pattern, class: 'family' });
    const events = f.events.map((ev) => el('label', { class: 'event' },
      el('input', { type: 'checkbox', 'data-event': ev.name, 'data-family': f.pattern }), ' ' + ev.event));
    family.addEventListener('change', syncChecks);
    return el('div', { class: 'family-group' },
      el('label', { class: 'family-label' }, family, ' All ' + f.name + ' events'), ...events);
  }));
}

// A family or "every event" covers the boxes under it.
function syncChecks() {
  const all = $('#ev-all').checked;
  for (const box of document.querySelectorAll('#families input.family')) {
    box.disabled = all;
    const covered = all || box.checked;
    for (const ev of document.querySelectorAll('#families input[data-family="' + box.dataset.pattern + '"]')) {
      if (covered) {
        ev.disabled = true;
        ev.checked = true; // shown as included; saved as the family
      } else if (ev.disabled) {
        ev.disabled = false;
        ev.checked = false;
      }
    }
  }
}

function openEditor(webhook) {
  state.editing = webhook;
  show('editor');
  $('#form-error').textContent = '';
  $('#editor-title').textContent = webhook ? 'Edit ' + (webhook.displayName || webhook.id) : 'New webhook';
  $('#wh-url').value = webhook ? webhook.url : '';
  $('#wh-name').value = webhook ? webhook.displayName : '';
  renderFamilies();
  const subs = new Set(webhook ? webhook.events : []);
  $('#ev-all').checked = subs.has('*');
  for (const box of document.querySelectorAll('#families input')) {
    box.checked = subs.has(box.dataset.pattern || box.dataset.event);
  }
  syncChecks();
  fillControls(webhook);
  $('#wh-url').focus();
}

// ---- delivery controls ----

const authFields = {
  basic: { username: '#wh-auth-username', password: '#wh-auth-password' },
  bearer: { token: '#wh-auth-token' },
  oauth2: { tokenUrl: '#wh-auth-token-url', clientId: '#wh-auth-client-id', clientSecret: '#wh-auth-client-secret', scopes: '#wh-auth-scopes', audience: '#wh-auth-audience' },
  mtls: { certificatePem: '#wh-auth-cert', privateKeyPem: '#wh-auth-key' },
};
const secretFields = new Set(['password', 'token', 'clientSecret', 'privateKeyPem']);

function showAuthFields() {
  const type = $('#wh-auth-type').value;
  for (const t of Object.keys(authFields)) $('#auth-' + t).hidden = t !== type;
}

// fillControls shows a webhook's controls in the editor (secrets left out:
// the API shows them masked) and notes what was loaded, so that saving an
// edit sends only what changed.
function fillControls(webhook) {
  const w = webhook || {};
  const headers = w.headers || {};
  $('#wh-headers').value = Object.entries(headers).map(([k, v]) => k + ': ' + v).join('\n');
  const auth = w.auth || {};
  $('#wh-auth-type').value = auth.type || '';
  for (const fields of Object.values(authFields)) {
    for (const [name, sel] of Object.entries(fields)) {
      const v = auth[name];
      $(sel).value = secretFields.has(name) || v === undefined ? '' : (Array.isArray(v) ? v.join(' ') : v);
    }
  }
  $('#auth-note').hidden = !w.auth;
  showAuthFields();
  $('#wh-max-per-second').value = w.throttle && w.throttle.maxPerSecond ? w.throttle.maxPerSecond : '';
  $('#wh-max-in-flight').value = w.throttle && w.throttle.maxInFlight ? w.throttle.maxInFlight : '';
  $('#wh-filter').value = w.filter ? JSON.stringify(w.filter) : '';
  $('#wh-ordering').value = w.ordering || 'none';
  $('#wh-controls').open = !!(w.headers || w.auth || w.throttle || w.filter || (w.ordering && w.ordering !== 'none'));
  state.loadedControls = { headers, auth: JSON.stringify(authInput(true)) };
}

// headerPatch reads the headers box: on create, every line; on an edit, a
// JSON merge patch of the loaded headers (a masked line keeps its value, a
// removed one is null).
function headerPatch(editing) {
  const out = {};
  for (const line of $('#wh-headers').value.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf(':');
    if (at < 1) throw new Error('Headers: write each as Name: value (' + line.trim() + ')');
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  if (!editing) return Object.keys(out).length ? out : undefined;
  const loaded = state.loadedControls.headers;
  const patch = {};
  for (const [k, v] of Object.entries(out)) if (!(k in loaded && v === loaded[k])) patch[k] = v;
  for (const k of Object.keys(loaded)) if (!(k in out)) patch[k] = null;
  return Object.keys(patch).length ? patch : undefined;
}

function authInput(raw) {
  const type = $('#wh-auth-type').value;
  if (!type) return null;
  const auth = { type };
  for (const [name, sel] of Object.entries(authFields[type])) {
    const v = $(sel).value.trim();
    if (!v) continue;
    auth[name] = name === 'scopes' && !raw ? v.split(/\s+/) : v;
  }
  return auth;
}

// controlsBody adds the controls to a create or PATCH body.
function controlsBody(body, editing) {
  const headers = headerPatch(editing);
  if (headers !== undefined) body.headers = headers;
  const auth = authInput(false);
  if (!editing) {
    if (auth) body.auth = auth;
  } else if (JSON.stringify(authInput(true)) !== state.loadedControls.auth) {
    body.auth = auth; // changed: replaced whole (null removes it)
  }
  const rate = $('#wh-max-per-second').value, conc = $('#wh-max-in-flight').value;
  if (rate || conc) {
    body.throttle = {};
    if (rate) body.throttle.maxPerSecond = Number(rate);
    if (conc) body.throttle.maxInFlight = Number(conc);
  } else if (editing) {
    body.throttle = null;
  }
  const filter = $('#wh-filter').value.trim();
  if (filter) {
    try { body.filter = JSON.parse(filter); } catch (e) { throw new Error('Filter: not valid JSON (' + e.message + ')'); }
  } else if (editing) {
    body.filter = {};
  }
  body.ordering = $('#wh-ordering').value;
  return body;
}

function chosenEvents() {
  if ($('#ev-all').checked) return ['*'];
  const out = [];
  for (const box of document.querySelectorAll('#families input.family')) {
    if (box.checked) out.push(box.dataset.pattern);
  }
  for (const box of document.querySelectorAll('#families input[data-event]')) {
    if (box.checked && !box.disabled) out.push(box.dataset.event);
  }
  return out;
}

async function saveWebhook(e) {
  e.preventDefault();
  const events = chosenEvents();
  if (events.length === 0) {
    $('#form-error').textContent = 'Choose at least one event.';
    return;
  }
  try {
    const body = controlsBody({ url: $('#wh-url').value.trim(), displayName: $('#wh-name').value.trim(), events }, !!state.editing);
    if (state.editing) {
      const w = await api('PATCH', '/v1/webhooks/' + encodeURIComponent(state.editing.id), body);
      await openDetail(w.id);
    } else {
      const w = await api('POST', '/v1/webhooks', body);
      await openDetail(w.id);
      showSecret('Signing secret (shown once here; reveal it again any time): ' + w.secret);
    }
  } catch (err) {
    failed('#form-error', err);
  }
}

// ---- detail ----

async function openDetail(id) {
  show('detail');
  say('');
  $('#recover-result').textContent = '';
  $('#secret-box').hidden = true;
  disarmDelete();
  try {
    state.webhook = await api('GET', '/v1/webhooks/' + encodeURIComponent(id));
  } catch (err) {
    failed('#action-result', err);
    return;
  }
  renderWebhook();
  await Promise.all([loadStats(), loadDeliveries(true)]);
}

function renderWebhook() {
  const w = state.webhook;
  $('#detail-name').textContent = w.displayName || w.id;
  $('#detail-url').textContent = w.url + '  ·  ' + w.events.join(', ');
  $('#detail-status').replaceChildren(statusBadge(w.status));
  $('#detail-paused-reason').hidden = w.status !== 'PAUSED';
  $('#detail-paused-reason').textContent = w.pausedReason ? 'Paused: ' + w.pausedReason : 'Paused.';
  $('#detail-last-error').textContent = w.lastErrorMessage ? 'Last error (' + when(w.lastErrorAt) + '): ' + w.lastErrorMessage : '';
  $('#toggle-pause').textContent = w.status === 'PAUSED' ? 'Resume' : 'Pause';
}

function showSecret(text) {
  const box = $('#secret-box');
  box.textContent = text;
  box.hidden = false;
}

async function testWebhook() {
  const out = $('#action-result');
  say('Sending a test event…');
  try {
    const r = await api('POST', '/v1/webhooks/' + encodeURIComponent(state.webhook.id) + '/test');
    const parts = r.delivered
      ? ['Test event delivered: ' + r.statusCode + ' in ' + r.latencyMs + ' ms. ']
      : ['Test event failed: ' + r.error + '. '];
    out.replaceChildren(...parts, workflowLink(r.workflowUrl, 'View its workflow'));
    out.className = r.delivered ? 'ok' : 'error';
    await Promise.all([loadStats(), loadDeliveries(true)]);
  } catch (err) {
    failed('#action-result', err);
  }
}

async function togglePause() {
  const next = state.webhook.status === 'PAUSED' ? 'ACTIVE' : 'PAUSED';
  try {
    state.webhook = await api('PATCH', '/v1/webhooks/' + encodeURIComponent(state.webhook.id), { status: next });
    renderWebhook();
    say(next === 'PAUSED' ? 'Paused: new events are not sent to it.' : 'Resumed.');
    await loadDeliveries(true);
  } catch (err) {
    failed('#action-result', err);
  }
}

async function revealSecret() {
  try {
    const s = await api('GET', '/v1/webhooks/' + encodeURIComponent(state.webhook.id) + '/secret');
    const lines = ['Signing secret: ' + s.secret];
    for (const p of s.previous) lines.push('Previous secret, signing until ' + when(p.expiresAt) + ': ' + p.secret);
    showSecret(lines.join('\n'));
  } catch (err) {
    failed('#action-result', err);
  }
}

async function rotateSecret() {
  try {
    const s = await api('POST', '/v1/webhooks/' + encodeURIComponent(state.webhook.id) + '/rotate-secret');
    showSecret('New signing secret: ' + s.secret + '\nThe previous secret keeps signing until ' + when(s.previousSecretsExpireAt) + '.');
    say('Secret rotated.', 'ok');
  } catch (err) {
    failed('#action-result', err);
  }
}

// Deleting takes a second click on the same button.
function disarmDelete() {
  const b = $('#delete-webhook');
  delete b.dataset.armed;
  b.textContent = 'Delete';
}

async function deleteWebhook() {
  const b = $('#delete-webhook');
  if (!b.dataset.armed) {
    b.dataset.armed = 'yes';
    b.textContent = 'Click again to delete';
    return;
  }
  try {
    await api('DELETE', '/v1/webhooks/' + encodeURIComponent(state.webhook.id));
    await showList();
  } catch (err) {
    failed('#action-result', err);
  }
}

// ---- stats chart ----

async function loadStats() {
  const chart = $('#chart');
  try {
    const s = await api('GET', '/v1/webhooks/' + encodeURIComponent(state.webhook.id) + '/stats');
    const max = Math.max(1, ...s.days.map((d) => d.delivered + d.failed));
    const barW = 60, gap = 40, top = 10, height = 130;
    const groups = s.days.map((d, i) => {
      const x = 20 + i * (barW + gap);
      const hD = Math.round(height * d.delivered / max);
      const hF = Math.round(height * d.failed / max);
      const latency = d.p50LatencyMs === null ? 'no attempts' : 'p50 ' + d.p50LatencyMs + ' ms, p95 ' + d.p95LatencyMs + ' ms';
      return svg('g', { class: 'day', 'data-date': d.date, 'data-delivered': d.delivered, 'data-failed': d.failed },
        svg('title', {}, d.date + ': ' + d.delivered + ' delivered, ' + d.failed + ' failed; ' + latency),
        svg('rect', { class: 'delivered', x, y: top + height - hD - hF, width: barW, height: hD }),
        svg('rect', { class: 'failed', x, y: top + height - hF, width: barW, height: hF }),
        svg('text', { x: x + barW / 2, y: top + height + 18, 'text-anchor': 'middle' }, d.date.slice(5)),
        svg('text', { x: x + barW / 2, y: top + height + 34, 'text-anchor': 'middle', class: 'count' }, d.delivered + d.failed));
    });
    chart.replaceChildren(...groups);
  } catch (err) {
    failed('#action-result', err);
  }
}

// ---- deliveries ----

async function loadDeliveries(reset) {
  const body = $('#delivery-table tbody');
  if (reset) {
    state.cursor = null;
    body.replaceChildren();
  }
  let path = '/v1/webhooks/' + encodeURIComponent(state.webhook.id) + '/deliveries?limit=20';
  const status = $('#delivery-status').value;
  if (status) path += '&status=' + encodeURIComponent(status);
  if (state.cursor) path += '&cursor=' + encodeURIComponent(state.cursor);
  try {
    const page = await api('GET', path);
    for (const d of page.deliveries.items) body.append(deliveryRow(d));
    state.cursor = page.deliveries.nextCursor;
    $('#more-deliveries').hidden = !state.cursor;
    $('#no-deliveries').hidden = body.children.length > 0;
  } catch (err) {
    failed('#action-result', err);
  }
}

function lastResult(d) {
  if (d.lastStatusCode) return String(d.lastStatusCode) + (d.lastError ? ' · ' + d.lastError : '');
  return d.lastError || '';
}

function deliveryRow(d) {
  const attempts = el('button', { type: 'button', class: 'attempts' }, 'Attempts');
  const retry = el('button', { type: 'button', class: 'retry' }, 'Retry');
  const row = el('tr', { class: 'delivery', 'data-id': d.id, 'data-event-id': d.eventId },
    el('td', {}, when(d.createdAt)),
    el('td', {}, d.event),
    el('td', {}, statusBadge(d.status)),
    el('td', { class: 'attempt-count' }, d.attemptCount),
    el('td', { class: 'last-result' }, lastResult(d)),
    el('td', { class: 'row-actions' }, attempts, ' ', retry, ' ', workflowLink(d.workflowUrl)));
  attempts.addEventListener('click', () => toggleAttempts(row, d.id));
  retry.addEventListener('click', () => retryDelivery(row, d.id));
  return row;
}

async function toggleAttempts(row, id) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains('attempts-row')) {
    next.remove();
    return;
  }
  try {
    const d = await api('GET', '/v1/deliveries/' + encodeURIComponent(id));
    row.after(attemptsRow(d));
  } catch (err) {
    failed('#action-result', err);
  }
}

function attemptsRow(d) {
  const rows = d.attempts.map((a) => el('tr', { class: 'attempt', 'data-attempt': a.attempt },
    el('td', {}, a.attempt),
    el('td', {}, a.trigger),
    el('td', {}, statusBadge(a.status)),
    el('td', {}, when(a.startedAt)),
    el('td', {}, a.statusCode === null ? '—' : a.statusCode),
    el('td', {}, a.latencyMs === null ? '—' : a.latencyMs + ' ms'),
    el('td', { class: 'error' }, a.error || ''),
    el('td', {}, a.responseBody ? el('details', {}, el('summary', {}, 'Response'), el('pre', { class: 'mono' }, a.responseBody)) : ''),
    el('td', {}, workflowLink(a.workflowUrl))));
  const table = el('table', { class: 'attempts' },
    el('thead', {}, el('tr', {}, ...['#', 'Trigger', 'Result', 'Started', 'Status', 'Latency', 'Error', '', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows));
  const next = d.nextAttemptAt ? el('p', {}, 'Next attempt due ' + when(d.nextAttemptAt) + '.') : null;
  return el('tr', { class: 'attempts-row', 'data-id': d.id }, el('td', { colSpan: 6 }, table, next));
}

async function retryDelivery(row, id) {
  const out = $('#action-result');
  say('Retrying…');
  try {
    const d = await api('POST', '/v1/deliveries/' + encodeURIComponent(id) + '/retry');
    const last = d.attempts[d.attempts.length - 1];
    out.textContent = last.status === 'delivered'
      ? 'Retried: delivered (' + last.statusCode + ').'
      : 'Retried: failed (' + (last.error || last.statusCode) + ').';
    out.className = last.status === 'delivered' ? 'ok' : 'error';
    const open = row.nextElementSibling && row.nextElementSibling.classList.contains('attempts-row');
    if (open) row.nextElementSibling.remove();
    const fresh = deliveryRow(d);
    row.replaceWith(fresh);
    fresh.after(attemptsRow(d));
    await loadStats();
  } catch (err) {
    failed('#action-result', err);
  }
}

// ---- recover ----

async function recover(dryRun) {
  const out = $('#recover-result');
  out.className = '';
  const raw = $('#recover-since').value;
  if (!raw) {
    out.textContent = 'Choose a time to recover from.';
    return;
  }
  const since = new Date(raw).toISOString().replace(/\.\d{3}Z$/, 'Z');
  try {
    const r = await api('POST', '/v1/webhooks/' + encodeURIComponent(state.webhook.id) + '/recover', { since, dryRun });
    if (dryRun) out.textContent = r.count + ' deliveries would be redelivered.';
    else if (r.count === 0) out.textContent = 'Nothing to redeliver.';
    else out.replaceChildren('Redelivering ' + r.count + ' deliveries. ', workflowLink(r.workflowUrl, 'View the recover workflow'));
  } catch (err) {
    failed('#recover-result', err);
  }
}

// ---- wiring ----

document.addEventListener('DOMContentLoaded', () => {
  $('#signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('#api-key').value.trim()); });
  $('#sign-out').addEventListener('click', () => signOut());
  $('#new-webhook').addEventListener('click', () => openEditor(null));
  $('#webhook-form').addEventListener('submit', saveWebhook);
  $('#wh-auth-type').addEventListener('change', showAuthFields);
  $('#cancel-edit').addEventListener('click', () => (state.editing ? openDetail(state.editing.id) : showList()));
  $('#ev-all').addEventListener('change', syncChecks);
  $('#back').addEventListener('click', (e) => { e.preventDefault(); showList(); });
  $('#edit-webhook').addEventListener('click', () => openEditor(state.webhook));
  $('#test-webhook').addEventListener('click', testWebhook);
  $('#toggle-pause').addEventListener('click', togglePause);
  $('#reveal-secret').addEventListener('click', revealSecret);
  $('#rotate-secret').addEventListener('click', rotateSecret);
  $('#delete-webhook').addEventListener('click', deleteWebhook);
  $('#delivery-status').addEventListener('change', () => loadDeliveries(true));
  $('#refresh-deliveries').addEventListener('click', () => loadDeliveries(true));
  $('#more-deliveries').addEventListener('click', () => loadDeliveries(false));
  $('#recover-count').addEventListener('click', () => recover(true));
  $('#recover-form').addEventListener('submit', (e) => { e.preventDefault(); recover(false); });
  if (state.key) signIn(state.key);
  else show('signin');
});
