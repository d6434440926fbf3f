import { $, el, template, when, statusBadge } from '../dom.js';
import { allWebhooks } from '../api.js';
import { failed, pauseBanner } from './common.js';

// webhooksPage lists the workspace's webhooks with their status and last
// error, under the banner of automatic pauses.
export async function webhooksPage(view, ctx) {
  const page = template('tpl-webhooks');
  view.append(page);
  try {
    const hooks = await allWebhooks(ctx.signal);
    pauseBanner(page, hooks, ctx);
    $('#webhook-table tbody', page).replaceChildren(...hooks.map((w) => el('tr', { 'data-id': w.id },
      el('td', {}, el('a', { href: '#/webhooks/' + encodeURIComponent(w.id), class: 'open' }, w.displayName || w.id)),
      el('td', { class: 'mono' }, w.url),
      el('td', {}, statusBadge(w.status)),
      el('td', {}, w.events.join(', ')),
      el('td', { class: 'error' }, w.lastErrorMessage ? w.lastErrorMessage + ' (' + when(w.lastErrorAt) + ')' : ''))));
    $('#no-webhooks', page).hidden = hooks.length > 0;
    page.querySelector('.scroll').hidden = hooks.length === 0;
  } catch (err) {
    failed($('#list-error', page), err, ctx);
  }
}
