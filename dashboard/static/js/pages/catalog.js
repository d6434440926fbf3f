import { $, el, template } from '../dom.js';
import { call } from '../api.js';
import { failed } from './common.js';

// catalogPage lists every event a webhook can subscribe to, by family,
// each with what it means and an example payload.
export async function catalogPage(view, ctx) {
  const page = template('tpl-catalog');
  view.append(page);
  try {
    const catalog = await call('eventTypes', { signal: ctx.signal });
    $('#catalog-families', page).replaceChildren(...catalog.families.map((f) => el('section', { class: 'family', 'data-family': f.pattern, 'aria-labelledby': 'family-' + f.name },
      el('h3', { id: 'family-' + f.name }, f.name + ' ', el('code', {}, f.pattern), f.operational ? el('span', { class: 'status paused' }, 'operational') : null),
      ...f.events.map((ev) => el('details', { class: 'event-type', 'data-event': ev.event },
        el('summary', {}, el('code', {}, ev.event), ' — ' + ev.description),
        el('p', { class: 'muted' }, 'Subscribe with ', el('code', {}, ev.name), ' or ', el('code', {}, ev.event), '. Example payload:'),
        el('pre', { tabindex: '0' }, JSON.stringify(ev.example, null, 2)))))));
  } catch (err) {
    failed($('#catalog-error', page), err, ctx);
  }
}
