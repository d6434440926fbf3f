import { $, $$, el, template } from '../dom.js';
import { call } from '../api.js';
import { failed } from './common.js';
import { session } from '../session.js';

const authFields = {
  basic: { username: '#wh-auth-username', password: '#wh-auth-password' },
  bearer: { token: '#wh-auth-token' },
  oauth2: { tokenUrl: '#wh-auth-token-url', clientId: '#wh-auth-client-id', clientSecret: '#wh-auth-client-secret', scopes: '#wh-auth-scopes', audience: '#wh-auth-audience' },
  mtls: { certificatePem: '#wh-auth-cert', privateKeyPem: '#wh-auth-key' },
};
const secretFields = new Set(['password', 'token', 'clientSecret', 'privateKeyPem']);

// editorPage creates a webhook (#/webhooks/new) or edits one
// (#/webhooks/{id}/edit): its URL, name, events by family, and delivery
// controls. An edit sends only what changed.
export async function editorPage(view, ctx) {
  if (session.portal() && session.portal().readOnly) {
    view.append(el('section', { id: 'read-only' }, el('h2', {}, 'Read-only'), el('p', {}, 'This session can look at webhooks but not change them.')));
    return;
  }
  const page = template('tpl-editor');
  const q = (sel) => $(sel, page);
  const error = q('#form-error');
  let webhook = null;
  let catalog;
  try {
    [catalog, webhook] = await Promise.all([
      call('eventTypes', { signal: ctx.signal }),
      ctx.params.id ? call('getWebhook', { params: { id: ctx.params.id }, signal: ctx.signal }) : null,
    ]);
  } catch (err) {
    view.append(page);
    failed(error, err, ctx);
    return;
  }
  view.append(page);
  q('#editor-title').textContent = webhook ? 'Edit ' + (webhook.displayName || webhook.id) : 'New webhook';
  q('#cancel-edit').href = webhook ? '#/webhooks/' + encodeURIComponent(webhook.id) : '#/webhooks';
  q('#wh-url').value = webhook ? webhook.url : '';
  q('#wh-name').value = webhook ? webhook.displayName : '';

  // Events: a family or "every event" covers the boxes under it.
  q('#families').replaceChildren(...catalog.families.map((f) => {
    const family = el('input', { type: 'checkbox', 'data-pattern': f.pattern, 'data-operational': f.operational ? 'yes' : null, class: 'family' });
    const events = f.events.map((ev) => el('label', { class: 'event', title: ev.description },
      el('input', { type: 'checkbox', 'data-event': ev.name, 'data-family': f.pattern }), ' ' + ev.event));
    family.addEventListener('change', syncChecks);
    const label = f.operational ? 'All ' + f.name + ' events (operational: not covered by every event)' : 'All ' + f.name + ' events';
    return el('div', { class: 'family-group' }, el('label', { class: 'family-label' }, family, ' ' + label), ...events);
  }));
  function syncChecks() {
    const all = q('#ev-all').checked;
    for (const box of $$('#families input.family', page)) {
      const byAll = all && !box.dataset.operational;
      box.disabled = byAll;
      const covered = byAll || box.checked;
      for (const ev of $$('#families input[data-family="' + box.dataset.pattern + '"]', page)) {
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
  const subs = new Set(webhook ? webhook.events : []);
  q('#ev-all').checked = subs.has('*');
  for (const box of $$('#families input', page)) box.checked = subs.has(box.dataset.pattern || box.dataset.event);
  q('#ev-all').addEventListener('change', syncChecks);
  syncChecks();

  // Delivery controls, secrets left out (the API shows them masked).
  const showAuthFields = () => {
    for (const t of Object.keys(authFields)) q('#auth-' + t).hidden = t !== q('#wh-auth-type').value;
  };
  const w = webhook || {};
  const loadedHeaders = w.headers || {};
  q('#wh-headers').value = Object.entries(loadedHeaders).map(([k, v]) => k + ': ' + v).join('\n');
  const auth = w.auth || {};
  q('#wh-auth-type').value = auth.type || '';
  for (const fields of Object.values(authFields)) {
    for (const [name, sel] of Object.entries(fields)) {
      const v = auth[name];
      q(sel).value = secretFields.has(name) || v === undefined ? '' : (Array.isArray(v) ? v.join(' ') : v);
    }
  }
  q('#auth-note').hidden = !w.auth;
  showAuthFields();
  q('#wh-auth-type').addEventListener('change', showAuthFields);
  q('#wh-max-per-second').value = w.throttle && w.throttle.maxPerSecond ? w.throttle.maxPerSecond : '';
  q('#wh-max-in-flight').value = w.throttle && w.throttle.maxInFlight ? w.throttle.maxInFlight : '';
  q('#wh-filter').value = w.filter ? JSON.stringify(w.filter) : '';
  q('#wh-ordering').value = w.ordering || 'none';
  q('#wh-controls').open = !!(w.headers || w.auth || w.throttle || w.filter || (w.ordering && w.ordering !== 'none'));

  function authInput(raw) {
    const type = q('#wh-auth-type').value;
    if (!type) return null;
    const out = { type };
    for (const [name, sel] of Object.entries(authFields[type])) {
      const v = q(sel).value.trim();
      if (v) out[name] = name === 'scopes' && !raw ? v.split(/\s+/) : v;
    }
    return out;
  }
  const loadedAuth = JSON.stringify(authInput(true));

  // headerPatch reads the headers box: on create, every line; on an edit,
  // a JSON merge patch of the loaded headers (a masked line keeps its
  // value, a removed one is null).
  function headerPatch() {
    const out = {};
    for (const line of q('#wh-headers').value.split('\n')) {
      if (!line.trim()) continue;
      const at = line.indexOf(':');
      if (at < 1) throw new Error('Headers: write each as Name: value (' + line.trim() + ')');
      out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    if (!webhook) return Object.keys(out).length ? out : undefined;
    const patch = {};
    for (const [k, v] of Object.entries(out)) if (!(k in loadedHeaders && v === loadedHeaders[k])) patch[k] = v;
    for (const k of Object.keys(loadedHeaders)) if (!(k in out)) patch[k] = null;
    return Object.keys(patch).length ? patch : undefined;
  }

  function body() {
    const events = [];
    if (q('#ev-all').checked) events.push('*');
    for (const box of $$('#families input.family', page)) if (box.checked && !box.disabled) events.push(box.dataset.pattern);
    for (const box of $$('#families input[data-event]', page)) if (box.checked && !box.disabled) events.push(box.dataset.event);
    if (events.length === 0) throw new Error('events: choose at least one event.');
    const out = { url: q('#wh-url').value.trim(), displayName: q('#wh-name').value.trim(), events };
    const headers = headerPatch();
    if (headers !== undefined) out.headers = headers;
    const a = authInput(false);
    if (!webhook) {
      if (a) out.auth = a;
    } else if (JSON.stringify(authInput(true)) !== loadedAuth) {
      out.auth = a; // changed: replaced whole (null removes it)
    }
    const rate = q('#wh-max-per-second').value, conc = q('#wh-max-in-flight').value;
    if (rate || conc) {
      out.throttle = {};
      if (rate) out.throttle.maxPerSecond = Number(rate);
      if (conc) out.throttle.maxInFlight = Number(conc);
    } else if (webhook) {
      out.throttle = null;
    }
    const filter = q('#wh-filter').value.trim();
    if (filter) {
      try { out.filter = JSON.parse(filter); } catch (e) { throw new Error('Filter: not valid JSON (' + e.message + ')'); }
    } else if (webhook) {
      out.filter = {};
    }
    out.ordering = q('#wh-ordering').value;
    return out;
  }

  // fieldFor is the control an error's field names (url, filter.a.in[1]…).
  const fieldFor = {
    url: '#wh-url', displayName: '#wh-name', events: '#wh-events', headers: '#wh-headers', auth: '#wh-auth-type',
    throttle: '#wh-max-per-second', filter: '#wh-filter', ordering: '#wh-ordering',
  };
  // showFieldError puts message beside the control its field names, or
  // clears every such message when there is none.
  function showFieldError(message) {
    for (const p of $$('.field-error', page)) p.remove();
    for (const c of $$('[aria-invalid]', page)) {
      c.removeAttribute('aria-invalid');
      c.removeAttribute('aria-describedby');
    }
    const m = /^([A-Za-z]+)[\w.[\]]*: /.exec(message || '');
    const sel = m && fieldFor[m[1]];
    if (!sel) return;
    const control = q(sel);
    const note = el('p', { class: 'field-error error', id: control.id + '-error' }, message);
    control.after(note);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', note.id);
    if (sel === '#wh-filter' || sel === '#wh-headers' || sel === '#wh-auth-type' || sel === '#wh-max-per-second') q('#wh-controls').open = true;
    control.focus();
  }

  q('#webhook-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    showFieldError('');
    let b;
    try {
      if (!q('#wh-url').value.trim()) throw new Error('url: is required');
      b = body();
    } catch (err) {
      error.textContent = err.message;
      showFieldError(err.message);
      return;
    }
    try {
      if (webhook) {
        await call('patchWebhook', { params: { id: webhook.id }, body: b, signal: ctx.signal });
        location.hash = '#/webhooks/' + encodeURIComponent(webhook.id);
      } else {
        const created = await call('createWebhook', { body: b, signal: ctx.signal });
        location.hash = '#/webhooks/' + encodeURIComponent(created.id) + '?created=1';
      }
    } catch (err) {
      failed(error, err, ctx);
      if (err.status === 422) showFieldError(err.message);
    }
  });
  q('#wh-url').focus();
}
