import { el } from '../dom.js';
import { call } from '../api.js';
import { session } from '../session.js';

// portalPage opens a portal link (#/portal/{code}): it spends the code
// for a session (cookies), forgets the code from the address and history,
// and shows the workspace's webhooks.
export async function portalPage(view, ctx) {
  const box = el('section', { id: 'portal-opening' }, el('h2', {}, 'Opening your webhooks…'));
  view.append(box);
  try {
    const p = await call('exchangePortalCode', { body: { code: ctx.params.code }, signal: ctx.signal });
    session.clear();
    session.setPortal(p);
    history.replaceState(null, '', '#/webhooks');
    ctx.rerender();
  } catch (err) {
    if (err.name === 'AbortError') return;
    box.replaceChildren(el('h2', {}, 'This link cannot be opened'), el('p', { id: 'portal-error', class: 'error', role: 'alert' }, err.message));
  }
}

// endedPage is where a portal session that ended or signed out lands.
export function endedPage(view) {
  const back = session.returnUrl();
  view.append(el('section', { id: 'portal-ended' },
    el('h2', {}, 'Your webhooks session has ended'),
    el('p', {}, 'Open the webhooks page again from where you came to start a new one.'),
    back ? el('p', {}, el('a', { href: back, target: '_top', id: 'ended-back' }, 'Back')) : null));
}
