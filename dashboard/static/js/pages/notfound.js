import { el } from '../dom.js';

export function notFoundPage(view) {
  view.append(el('section', { id: 'not-found' },
    el('h2', {}, 'Nothing here'),
    el('p', {}, 'This link does not name a page of the dashboard. ', el('a', { href: '#/webhooks' }, 'Go to your webhooks'), '.')));
}
