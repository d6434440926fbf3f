import { $, el, template, when, statusBadge, workflowLink, say } from '../dom.js';
import { call } from '../api.js';
import { link } from '../router.js';
import { drawChart } from '../chart.js';
import { failed, pauseBanner } from './common.js';

// webhookPage is one webhook (#/webhooks/{id}), its deliveries filtered by
// the link's query (?status=failed&event=conversation.created): its
// actions, an example to send, the 7-day chart and recover.
export async function webhookPage(view, ctx) {
  const id = ctx.params.id;
  const page = template('tpl-webhook');
  const q = (sel) => $(sel, page);
  const out = q('#action-result');
  view.append(page);
  let webhook, catalog;
  try {
    [webhook, catalog] = await Promise.all([
      call('getWebhook', { params: { id }, signal: ctx.signal }),
      call('eventTypes', { signal: ctx.signal }),
    ]);
  } catch (err) {
    failed(out, err, ctx);
    return;
  }
  const filters = { status: ctx.query.status || '', event: ctx.query.event || '' };

  function render() {
    q('#detail-name').textContent = webhook.displayName || webhook.id;
    q('#detail-url').textContent = webhook.url + '  ·  ' + webhook.events.join(', ');
    q('#detail-status').replaceChildren(statusBadge(webhook.status));
    q('#detail-paused-reason').hidden = webhook.status !== 'PAUSED';
    q('#detail-paused-reason').textContent = webhook.pausedReason ? 'Paused: ' + webhook.pausedReason : 'Paused.';
    q('#detail-last-error').textContent = webhook.lastErrorMessage ? 'Last error (' + when(webhook.lastErrorAt) + '): ' + webhook.lastErrorMessage : '';
    q('#toggle-pause').textContent = webhook.status === 'PAUSED' ? 'Resume' : 'Pause';
    pauseBanner(page, [webhook], ctx, () => { webhook.pauseAcknowledgedAt = new Date().toISOString(); });
  }
  render();
  q('#edit-webhook').href = '#/webhooks/' + encodeURIComponent(id) + '/edit';

  // The events it subscribes to, for examples and the log's filter.
  const subscribed = [];
  for (const f of catalog.families) {
    for (const ev of f.events) {
      const covered = webhook.events.includes(ev.name) || webhook.events.includes(f.pattern) || (!f.operational && webhook.events.includes('*'));
      if (covered) subscribed.push(ev);
    }
  }
  q('#example-event').replaceChildren(...subscribed.map((ev) => el('option', { value: ev.event }, ev.event)));
  q('#delivery-event').append(...catalog.families.flatMap((f) => f.events.map((ev) => el('option', { value: ev.event }, ev.event))),
    el('option', { value: 'testing.connection' }, 'testing.connection'));
  q('#delivery-status').value = filters.status;
  q('#delivery-event').value = filters.event;

  const showSecret = (text) => {
    q('#secret-box').textContent = text;
    q('#secret-box').hidden = false;
  };

  async function loadStats() {
    try {
      const s = await call('webhookStats', { params: { id }, signal: ctx.signal });
      drawChart(q('#chart'), q('#chart-table tbody'), s.days);
    } catch (err) {
      failed(out, err, ctx);
    }
  }

  let cursor = null;
  let pages = 0;
  let shown = ''; // what the newest page showed, to leave it be when nothing changed
  async function loadDeliveries(reset, quiet) {
    const body = q('#delivery-table tbody');
    try {
      const page = await call('listDeliveries', { params: { id }, query: { limit: 20, status: filters.status, event: filters.event, cursor: reset ? null : cursor }, signal: ctx.signal });
      if (reset) {
        const now = page.deliveries.items.map((d) => d.id + ' ' + d.status + ' ' + d.attemptCount + ' ' + d.updatedAt).join(',');
        if (quiet && now === shown) return;
        shown = now;
        body.replaceChildren();
      }
      pages = reset ? 1 : pages + 1;
      for (const d of page.deliveries.items) body.append(deliveryRow(d));
      cursor = page.deliveries.nextCursor;
      q('#more-deliveries').hidden = !cursor;
      q('#no-deliveries').hidden = body.children.length > 0;
    } catch (err) {
      failed(out, err, ctx);
    }
  }

  function deliveryRow(d) {
    const retry = el('button', { type: 'button', class: 'retry change' }, 'Retry');
    const row = el('tr', { class: 'delivery', 'data-id': d.id, 'data-event-id': d.eventId },
      el('td', {}, el('a', { class: 'open-delivery', href: '#/deliveries/' + encodeURIComponent(d.id) }, when(d.createdAt))),
      el('td', {}, d.event),
      el('td', {}, statusBadge(d.status)),
      el('td', { class: 'attempt-count' }, d.attemptCount),
      el('td', { class: 'last-result' }, d.lastStatusCode ? d.lastStatusCode + (d.lastError ? ' · ' + d.lastError : '') : d.lastError || ''),
      el('td', { class: 'row-actions' }, retry, ' ', workflowLink(d.workflowUrl)));
    retry.addEventListener('click', async () => {
      say(out, 'Retrying…');
      try {
        const fresh = await call('retryDelivery', { params: { id: d.id }, signal: ctx.signal });
        const last = fresh.attempts[fresh.attempts.length - 1];
        say(out, last.status === 'delivered' ? 'Retried: delivered (' + last.statusCode + ').' : 'Retried: failed (' + (last.error || last.statusCode) + ').',
          last.status === 'delivered' ? 'ok' : 'error');
        row.replaceWith(deliveryRow(fresh));
        await loadStats();
      } catch (err) {
        failed(out, err, ctx);
      }
    });
    return row;
  }

  async function test(event) {
    say(out, event ? 'Sending an example of ' + event + '…' : 'Sending a test event…');
    try {
      const r = await call('testWebhook', { params: { id }, body: event ? { event } : undefined, signal: ctx.signal });
      const what = event ? 'Example ' + event : 'Test event';
      out.replaceChildren(r.delivered ? what + ' delivered: ' + r.statusCode + ' in ' + r.latencyMs + ' ms. ' : what + ' failed: ' + r.error + '. ',
        workflowLink(r.workflowUrl, 'View its workflow'));
      out.className = r.delivered ? 'ok' : 'error';
      await Promise.all([loadStats(), loadDeliveries(true)]);
    } catch (err) {
      failed(out, err, ctx);
    }
  }
  q('#test-webhook').addEventListener('click', () => test(''));
  q('#example-form').addEventListener('submit', (e) => {
    e.preventDefault();
    test(q('#example-event').value);
  });

  q('#toggle-pause').addEventListener('click', async () => {
    const next = webhook.status === 'PAUSED' ? 'ACTIVE' : 'PAUSED';
    try {
      webhook = await call('patchWebhook', { params: { id }, body: { status: next }, signal: ctx.signal });
      render();
      say(out, next === 'PAUSED' ? 'Paused: new events are not sent to it.' : 'Resumed.');
      await loadDeliveries(true);
    } catch (err) {
      failed(out, err, ctx);
    }
  });
  q('#reveal-secret').addEventListener('click', async () => {
    try {
      const s = await call('getSecret', { params: { id }, signal: ctx.signal });
      const lines = ['Signing secret: ' + s.secret];
      for (const p of s.previous) lines.push('Previous secret, signing until ' + when(p.expiresAt) + ': ' + p.secret);
      showSecret(lines.join('\n'));
    } catch (err) {
      failed(out, err, ctx);
    }
  });
  q('#rotate-secret').addEventListener('click', async () => {
    try {
      const s = await call('rotateSecret', { params: { id }, signal: ctx.signal });
      showSecret('New signing secret: ' + s.secret + '\nThe previous secret keeps signing until ' + when(s.previousSecretsExpireAt) + '.');
      say(out, 'Secret rotated.', 'ok');
    } catch (err) {
      failed(out, err, ctx);
    }
  });
  // Deleting takes a second click on the same button.
  q('#delete-webhook').addEventListener('click', async (e) => {
    const b = e.currentTarget;
    if (!b.dataset.armed) {
      b.dataset.armed = 'yes';
      b.textContent = 'Click again to delete';
      return;
    }
    try {
      await call('deleteWebhook', { params: { id }, signal: ctx.signal });
      location.hash = '#/webhooks';
    } catch (err) {
      failed(out, err, ctx);
    }
  });

  // The log's filters are part of the link.
  const refilter = () => {
    location.hash = link(['webhooks', id], { status: q('#delivery-status').value, event: q('#delivery-event').value });
  };
  q('#delivery-status').addEventListener('change', refilter);
  q('#delivery-event').addEventListener('change', refilter);
  q('#refresh-deliveries').addEventListener('click', () => loadDeliveries(true));
  q('#more-deliveries').addEventListener('click', () => loadDeliveries(false));

  async function recover(dryRun) {
    const res = q('#recover-result');
    res.className = '';
    const raw = q('#recover-since').value;
    if (!raw) {
      res.textContent = 'Choose a time to recover from.';
      return;
    }
    const since = new Date(raw).toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      const r = await call('recoverWebhook', { params: { id }, body: { since, dryRun }, signal: ctx.signal });
      if (dryRun) res.textContent = r.count + ' deliveries would be redelivered.';
      else if (r.count === 0) res.textContent = 'Nothing to redeliver.';
      else res.replaceChildren('Redelivering ' + r.count + ' deliveries. ', workflowLink(r.workflowUrl, 'View the recover workflow'));
    } catch (err) {
      failed(res, err, ctx);
    }
  }
  q('#recover-count').addEventListener('click', () => recover(true));
  q('#recover-form').addEventListener('submit', (e) => {
    e.preventDefault();
    recover(false);
  });

  if (ctx.query.created) {
    try {
      const s = await call('getSecret', { params: { id }, signal: ctx.signal });
      showSecret('Signing secret (reveal it again any time): ' + s.secret);
    } catch (err) {
      failed(out, err, ctx);
    }
  }
  await Promise.all([loadStats(), loadDeliveries(true)]);

  // New deliveries appear by themselves: the newest page is read again
  // every few seconds while the tab is shown and no older page is open,
  // until you leave the page.
  const timer = setInterval(() => {
    if (!document.hidden && pages === 1 && !ctx.signal.aborted) loadDeliveries(true, true);
  }, 3000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer));
}
