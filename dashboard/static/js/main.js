// The dashboard's entry: routes, the signed-in guard and the header, which
// in a portal session takes the platform's theme, a link back, and no
// header of its own when framed.

import { $ } from './dom.js';
import { call } from './api.js';
import { session } from './session.js';
import { startRouter } from './router.js';
import { signInPage } from './pages/signin.js';
import { webhooksPage } from './pages/webhooks.js';
import { editorPage } from './pages/editor.js';
import { webhookPage } from './pages/webhook.js';
import { deliveryPage } from './pages/delivery.js';
import { catalogPage } from './pages/catalog.js';
import { notFoundPage } from './pages/notfound.js';
import { portalPage, endedPage } from './pages/portal.js';

const routes = [
  { pattern: ['webhooks'], page: webhooksPage },
  { pattern: ['webhooks', 'new'], page: editorPage },
  { pattern: ['webhooks', ':id'], page: webhookPage },
  { pattern: ['webhooks', ':id', 'edit'], page: editorPage },
  { pattern: ['deliveries', ':id'], page: deliveryPage },
  { pattern: ['deliveries', ':id', 'attempts', ':attempt'], page: deliveryPage },
  { pattern: ['events'], page: catalogPage },
  { pattern: ['portal', ':code'], page: portalPage, open: true },
  { pattern: ['ended'], page: endedPage, open: true },
];

const embedded = window.top !== window.self;

// chrome shapes the page around the view for who is signed in.
function chrome() {
  const portal = session.portal();
  const body = document.body;
  body.classList.toggle('portal', !!portal);
  body.classList.toggle('embedded', !!portal && embedded);
  body.classList.toggle('read-only', !!(portal && portal.readOnly));
  $('#nav').hidden = !session.signedIn();
  const back = $('#portal-back');
  back.hidden = !(portal && portal.returnUrl);
  if (portal && portal.returnUrl) back.href = portal.returnUrl;
  const theme = (portal && portal.theme) || {};
  const root = document.documentElement.style;
  for (const [prop, value] of [['--accent', theme.accent], ['--page', theme.background]]) {
    if (value) root.setProperty(prop, value);
    else root.removeProperty(prop);
  }
  const logo = $('#brand-logo');
  logo.hidden = !theme.logoUrl;
  if (theme.logoUrl) logo.src = theme.logoUrl;
  $('#brand-name').textContent = theme.name ? theme.name + ' Webhooks' : 'TidySupport Webhooks';
}

const render = startRouter({
  routes,
  view: $('#view'),
  notFound: notFoundPage,
  // Without a key or a portal session every link shows the sign-in form;
  // signing in renders the page the link was for.
  guard: (route) => {
    chrome();
    if (route && route.open) return null;
    return session.signedIn() ? null : signInPage;
  },
});

$('#sign-out').addEventListener('click', async () => {
  const portal = session.portal();
  if (portal) {
    try {
      await call('portalSignOut');
    } catch {
      // Ended already: the page forgets it all the same.
    }
    session.clear();
    location.hash = '#/ended';
    return;
  }
  session.clear();
  location.hash = '#/webhooks';
  render();
});

// Framed, the page tells the page around it its height, so that the frame
// can fit it without a scroll bar of its own: {type: 'tidyhooks:resize',
// height} to the origin that framed it (which the server's frame-ancestors
// allowed).
if (embedded && location.ancestorOrigins && location.ancestorOrigins.length) {
  const origin = location.ancestorOrigins[0];
  const tell = () => parent.postMessage({ type: 'tidyhooks:resize', height: document.documentElement.scrollHeight }, origin);
  new ResizeObserver(tell).observe(document.body);
  parent.postMessage({ type: 'tidyhooks:ready' }, origin);
}
