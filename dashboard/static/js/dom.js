// Small DOM helpers. User-supplied text is only ever set as text.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// el builds an element: el('td', {class: 'x'}, 'text', child…).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

// template clones the page template with the given id.
export function template(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function statusBadge(status) {
  return el('span', { class: 'status ' + String(status).toLowerCase() }, status);
}

export function workflowLink(url, label) {
  if (!url) return null;
  return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'workflow' }, label || 'Workflow');
}

// say shows an action's outcome in an output element: neutral, 'ok' or 'error'.
export function say(out, text, cls) {
  out.textContent = text;
  out.className = cls || '';
}

// copyButtons makes every button.copy in root copy its target's text.
export function copyButtons(root) {
  for (const b of $$('button.copy', root)) {
    b.addEventListener('click', async () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = 'Copied';
      } catch {
        // Without clipboard access (an insecure origin): select it.
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(b.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        b.textContent = 'Selected';
      }
      setTimeout(() => { b.textContent = 'Copy'; }, 1500);
    });
  }
}
