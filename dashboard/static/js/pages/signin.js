import { $, template } from '../dom.js';
import { call } from '../api.js';
import { session } from '../session.js';

// signInPage asks for an API key, checks that it may manage webhooks, and
// then renders the page the link was for.
export function signInPage(view, { rerender, message }) {
  const page = template('tpl-signin');
  view.append(page);
  const error = $('#signin-error', page);
  error.textContent = message || '';
  $('#signin-form', page).addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = $('#api-key', page).value.trim();
    try {
      await call('listWebhooks', { query: { limit: 1 }, key });
    } catch (err) {
      error.textContent = err.status === 401 ? 'That API key is not valid.'
        : err.status === 403 ? 'That API key cannot manage webhooks: it lacks the api_user scope.' : err.message;
      return;
    }
    session.set(key);
    rerender();
  });
  $('#api-key', page).focus();
}
