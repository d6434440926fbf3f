// The dashboard's entry: routes, the signed-in guard and the header.

import { $ } from './dom.js';
import { session } from './session.js';
import { startRouter } from './router.js';
import { signInPage } from './pages/signin.js';
import { webhooksPage } from './pages/webhooks.js';
import { editorPage } from './pages/editor.js';
import { webhookPage } from './pages/webhook.js';
import { deliveryPage } from './pages/delivery.js';
import { catalogPage } from './pages/catalog.js';
import { notFoundPage } from './pages/notfound.js';

const routes = [
  { pattern: ['webhooks'], page: webhooksPage },
  { pattern: ['webhooks', 'new'], page: editorPage },
  { pattern: ['webhooks', ':id'], page: webhookPage },
  { pattern: ['webhooks', ':id', 'edit'], page: editorPage },
  { pattern: ['deliveries', ':id'], page: deliveryPage },
  { pattern: ['deliveries', ':id', 'attempts', ':attempt'], page: deliveryPage },
  { pattern: ['events'], page: catalogPage },
];

const render = startRouter({
  routes,
  view: $('#view'),
  notFound: notFoundPage,
  // Without a key every link shows the sign-in form; signing in renders
  // the page the link was for.
  guard: () => {
    $('#nav').hidden = !session.key();
    return session.key() ? null : signInPage;
  },
});

$('#sign-out').addEventListener('click', () => {
  session.clear();
  location.hash = '#/webhooks';
  render();
});
