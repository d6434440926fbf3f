// Who is signed in, for this tab only: an API key, or a portal session
// (held in cookies; what is kept here is what the page shows of it).

const KEY = 'tidyhooks.apiKey';
const PORTAL = 'tidyhooks.portal';
const RETURN = 'tidyhooks.portalReturn';

export const session = {
  key: () => sessionStorage.getItem(KEY) || '',
  set: (key) => sessionStorage.setItem(KEY, key),
  // portal is the portal session's {workspaceId, readOnly, returnUrl,
  // theme, expiresAt}, or null.
  portal: () => {
    try {
      return JSON.parse(sessionStorage.getItem(PORTAL));
    } catch {
      return null;
    }
  },
  setPortal: (p) => sessionStorage.setItem(PORTAL, JSON.stringify(p)),
  signedIn: () => !!(sessionStorage.getItem(KEY) || sessionStorage.getItem(PORTAL)),
  // clear signs out; a portal session's link back is kept for the page
  // that says it ended.
  clear: () => {
    const p = session.portal();
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(PORTAL);
    if (p && p.returnUrl) sessionStorage.setItem(RETURN, p.returnUrl);
  },
  returnUrl: () => sessionStorage.getItem(RETURN) || '',
};

// csrfToken is the portal session's CSRF token, from its cookie.
export function csrfToken() {
  const c = document.cookie.split('; ').find((x) => x.startsWith('tidyhooks_portal_csrf='));
  return c ? decodeURIComponent(c.slice('tidyhooks_portal_csrf='.length)) : '';
}
