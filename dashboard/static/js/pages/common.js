// What every page shares: showing a failure, and the banner of automatic
// pauses waiting to be acknowledged.

import { $, el, when } from '../dom.js';
import { call } from '../api.js';
import { session } from '../session.js';

// failed shows err where the action was taken; a call cancelled by leaving
// the page shows nothing, and a key that stopped working signs out.
export function failed(out, err, ctx) {
  if (err && err.name === 'AbortError') return;
  if (err && err.status === 401) {
    const portal = session.portal();
    session.clear();
    if (portal) location.hash = '#/ended';
    else ctx.rerender();
    return;
  }
  out.textContent = err.message;
  out.className = 'error';
}

// pauseBanner tells, in root's #pause-banner, of each webhook paused
// automatically whose pause nobody has acknowledged yet, until someone
// does.
export function pauseBanner(root, hooks, ctx, onAcknowledged) {
  const banner = $('#pause-banner', root);
  const unseen = hooks.filter((w) => w.status === 'PAUSED' && w.pausedAt && !w.pauseAcknowledgedAt);
  banner.hidden = unseen.length === 0;
  banner.replaceChildren(...unseen.map((w) => {
    const ack = el('button', { type: 'button', class: 'acknowledge change', 'data-id': w.id }, 'Acknowledge');
    const line = el('p', { class: 'paused-notice', 'data-id': w.id },
      el('strong', {}, 'Webhook paused automatically: '),
      el('a', { href: '#/webhooks/' + encodeURIComponent(w.id) }, w.displayName || w.url),
      ' was paused ' + when(w.pausedAt) + ' (' + (w.pausedReason || 'no reason given') + '). It receives nothing until you resume it. ',
      ack);
    ack.addEventListener('click', async () => {
      try {
        await call('acknowledgePause', { params: { id: w.id }, signal: ctx.signal });
        line.remove();
        banner.hidden = banner.children.length === 0;
        if (onAcknowledged) onAcknowledged(w.id);
      } catch (err) {
        failed(line, err, ctx);
      }
    });
    return line;
  }));
}
