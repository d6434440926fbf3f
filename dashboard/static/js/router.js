// A hash router: every view has its own link (#/webhooks/wh_…), so reload
// and back keep you where you were. Each visit gets an AbortSignal that
// aborts when you leave, which cancels the page's requests.

// parse splits a hash (#/webhooks/wh_1?status=failed) into path parts and
// the query.
export function parse(hash) {
  const raw = hash.replace(/^#/, '') || '/webhooks';
  const [path, query = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: Object.fromEntries(new URLSearchParams(query)) };
}

// link builds a hash from path parts and a query (empty values left out).
export function link(parts, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = [...q].length ? '?' + q : '';
  return '#/' + parts.map(encodeURIComponent).join('/') + s;
}

// match finds the route for parts: a route's pattern names its parameters
// with a colon (['webhooks', ':id']).
function match(routes, parts) {
  for (const route of routes) {
    if (route.pattern.length !== parts.length) continue;
    const params = {};
    const ok = route.pattern.every((p, i) => {
      if (p.startsWith(':')) {
        params[p.slice(1)] = parts[i];
        return true;
      }
      return p === parts[i];
    });
    if (ok) return { route, params };
  }
  return null;
}

// startRouter renders the route of the current hash into view, now and on
// every change. guard(route) may return another page to render instead
// (sign in); notFound renders unknown links.
export function startRouter({ routes, view, guard, notFound }) {
  let visit = null;
  const render = () => {
    if (visit) visit.abort();
    visit = new AbortController();
    const { parts, query } = parse(location.hash);
    const found = match(routes, parts);
    const page = guard(found && found.route) || (found ? found.route.page : notFound);
    view.replaceChildren();
    const ctx = { params: found ? found.params : {}, query, signal: visit.signal, rerender: render };
    Promise.resolve(page(view, ctx)).catch((err) => {
      if (err && err.name === 'AbortError') return;
      console.error(err);
    });
  };
  addEventListener('hashchange', render);
  render();
  return render;
}

// go navigates to hash; navigating to the current hash renders it again.
export function go(hash, rerender) {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}
