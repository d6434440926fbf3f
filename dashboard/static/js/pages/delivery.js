import { $, el, template, when, statusBadge, say, copyButtons } from '../dom.js';
import { call } from '../api.js';
import { failed } from './common.js';

// headerText shows headers as they travel: one "Name: value" per line.
function headerText(h) {
  if (!h) return '(not recorded)';
  return Object.entries(h).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => k + ': ' + v).join('\n');
}

// prettyBody indents a JSON body; anything else is shown as received.
function prettyBody(body) {
  if (!body) return '(empty)';
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

// deliveryPage is one delivery (#/deliveries/{id}) with every attempt;
// #/deliveries/{id}/attempts/{n} opens attempt n's request and response.
export async function deliveryPage(view, ctx) {
  const page = template('tpl-delivery');
  const q = (sel) => $(sel, page);
  const out = q('#action-result');
  view.append(page);
  copyButtons(page);
  let d, webhook;
  try {
    d = await call('getDelivery', { params: { id: ctx.params.id }, signal: ctx.signal });
    webhook = await call('getWebhook', { params: { id: d.webhookId }, signal: ctx.signal }).catch((err) => {
      if (err.status === 404) return null; // deleted since
      throw err;
    });
  } catch (err) {
    failed(out, err, ctx);
    return;
  }
  const chosen = ctx.params.attempt ? Number(ctx.params.attempt) : d.attempts.length;

  function render() {
    q('#delivery-back').href = '#/webhooks/' + encodeURIComponent(d.webhookId);
    q('#delivery-title').textContent = d.event + ' to ' + (webhook ? webhook.displayName || webhook.url : d.webhookId);
    q('#delivery-status-badge').replaceChildren(statusBadge(d.status));
    const facts = [['Event id (webhook-id)', d.eventId], ['Delivery', d.id], ['Created', when(d.createdAt)], ['Attempts', d.attemptCount]];
    if (d.nextAttemptAt) facts.push(['Next attempt due', when(d.nextAttemptAt)]);
    if (webhook) facts.push(['Endpoint', webhook.url]);
    q('#delivery-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { class: 'mono' }, v)]));
    if (d.workflowUrl) {
      q('#delivery-workflow').href = d.workflowUrl;
      q('#delivery-workflow').hidden = false;
    }
    q('#attempt-table tbody').replaceChildren(...d.attempts.map((a) => el('tr', { class: 'attempt' + (a.attempt === chosen ? ' chosen' : ''), 'data-attempt': a.attempt },
      el('td', {}, el('a', { href: '#/deliveries/' + encodeURIComponent(d.id) + '/attempts/' + a.attempt, 'aria-current': a.attempt === chosen ? 'true' : null }, '#' + a.attempt)),
      el('td', {}, a.trigger),
      el('td', {}, statusBadge(a.status)),
      el('td', {}, when(a.startedAt)),
      el('td', {}, a.statusCode === null ? '—' : a.statusCode),
      el('td', {}, a.latencyMs === null ? '—' : a.latencyMs + ' ms'),
      el('td', { class: 'error' }, a.error || ''))));
    const a = d.attempts.find((x) => x.attempt === chosen);
    q('#attempt-detail').hidden = !a;
    if (!a) return;
    q('#attempt-title').textContent = 'Attempt ' + a.attempt + ' · ' + a.trigger + ' · ' + when(a.startedAt);
    q('#attempt-request-line').textContent = 'POST ' + (webhook ? webhook.url : '');
    q('#attempt-request-headers').textContent = headerText(a.requestHeaders);
    q('#attempt-request-body').textContent = d.requestBody ? prettyBody(d.requestBody) : '(past retention)';
    q('#attempt-response-line').textContent = a.statusCode === null
      ? 'No answer' + (a.error ? ': ' + a.error : '')
      : a.statusCode + (a.latencyMs === null ? '' : ' in ' + a.latencyMs + ' ms') + (a.error ? ' · ' + a.error : '');
    q('#attempt-response-headers').textContent = a.statusCode === null ? '(none)' : headerText(a.responseHeaders);
    q('#attempt-response-body').textContent = a.responseBody || '(empty)';
  }
  render();

  q('#retry-delivery').addEventListener('click', async () => {
    say(out, 'Retrying…');
    try {
      d = await call('retryDelivery', { params: { id: d.id }, signal: ctx.signal });
      const last = d.attempts[d.attempts.length - 1];
      say(out, last.status === 'delivered' ? 'Retried: delivered (' + last.statusCode + ').' : 'Retried: failed (' + (last.error || last.statusCode) + ').',
        last.status === 'delivered' ? 'ok' : 'error');
      // The new attempt is the one to read.
      location.hash = '#/deliveries/' + encodeURIComponent(d.id) + '/attempts/' + last.attempt;
    } catch (err) {
      failed(out, err, ctx);
    }
  });
}
