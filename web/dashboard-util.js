// NtR live dashboard: small shared helpers (DOM, time labels, the toast, JSON requests).
// Requests use the session cookie and this page's Origin; never a token.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'role' || k.startsWith('data-') || k.startsWith('aria-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

export function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

export function dateLabel(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

export function ago(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}

// "+H:MM:SS" from the show start, as the setlists and GET /shows/{id}/announcements say it.
export function offsetText(showStartIso, iso) {
  const secs = Math.trunc((new Date(iso).getTime() - new Date(showStartIso).getTime()) / 1000);
  if (isNaN(secs)) return '';
  const a = Math.abs(secs);
  const two = (n) => String(n).padStart(2, '0');
  return (secs < 0 ? '-' : '+') + Math.floor(a / 3600) + ':' + two(Math.floor(a / 60) % 60) +
    ':' + two(a % 60);
}

export function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

// --- the toast: one line of news with its action buttons (Undo, Send again) ----------
// An ARIA live region: role="status" (polite); errors role="alert". toast() again with the
// same button ids updates it in place (a focused button stays focused).

let toastTimer = null;
const buttonTimers = new Map();

export function hideToast() {
  clearTimeout(toastTimer);
  $('toast').hidden = true;
  for (const t of buttonTimers.values()) clearTimeout(t);
  buttonTimers.clear();
  $('toast-actions').replaceChildren();
}

// The toast's words. With `spoken` (a countdown) the visible words are hidden from screen
// readers and `spoken` is what the live region says: it changes only when it should be
// read out again (not on every tick).
function toastWords(text, spoken) {
  const box = $('toast-text');
  if (spoken == null) { box.textContent = text; return; }
  let shown = box.querySelector('.seen');
  let said = box.querySelector('.sr-only');
  if (!shown || !said) {
    shown = el('span', { class: 'seen', 'aria-hidden': 'true' });
    said = el('span', { class: 'sr-only' });
    box.replaceChildren(shown, said);
  }
  if (shown.textContent !== text) shown.textContent = text;
  if (said.textContent !== spoken) said.textContent = spoken;
}

// actions: [{id, label, title, class, ms (how long the button stays), run}]; ms: how long
// the toast stays (default 6 s, errors 9 s, at least as long as its buttons); extra:
// {spoken (see toastWords), outputs (a node of per-output badges)}.
export function toast(text, kind, actions, ms, extra) {
  const t = $('toast');
  const list = [].concat(actions || []);
  const x = extra || {};
  toastWords(text, x.spoken);
  $('toast-outputs').replaceChildren(...(x.outputs ? [x.outputs] : []));
  t.dataset.kind = kind || 'info';
  t.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  t.setAttribute('aria-live', kind === 'error' ? 'assertive' : 'polite');
  const box = $('toast-actions');
  const ids = new Set(list.map((a) => a.id));
  for (const b of [...box.children]) {
    if (!ids.has(b.id)) { clearTimeout(buttonTimers.get(b.id)); buttonTimers.delete(b.id); b.remove(); }
  }
  for (const a of list) {
    let b = box.querySelector('#' + a.id);
    if (!b) {
      b = el('button', { type: 'button', id: a.id, class: 'toast-action' + (a.class ? ' ' + a.class : '') });
      box.append(b);
    }
    b.textContent = a.label;
    b.title = a.title || '';
    b.disabled = false;
    b.onclick = () => { b.disabled = true; a.run(); };
    clearTimeout(buttonTimers.get(a.id));
    if (a.ms) {
      buttonTimers.set(a.id, setTimeout(() => { buttonTimers.delete(a.id); b.remove(); }, a.ms));
    }
  }
  t.hidden = false;
  clearTimeout(toastTimer);
  const life = Math.max(ms || (kind === 'error' ? 9000 : 6000), ...list.map((a) => a.ms || 0));
  toastTimer = setTimeout(hideToast, life);
}

// --- JSON requests -------------------------------------------------------------------

export async function getJSON(url) {
  const r = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.json();
}

// A state-changing request; resolves to {status, data} (data is {} when not JSON).
export async function sendJSON(method, url, body) {
  const init = {
    method, credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  };
  if (method !== 'DELETE') {
    init.headers['Content-Type'] = 'application/json';
    init.body = body === undefined ? '{}' : JSON.stringify(body);
  }
  const r = await fetch(url, init);
  let data = {};
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (r.status === 401) { location.href = '/login'; }
  return { status: r.status, data };
}

export const postJSON = (url, body) => sendJSON('POST', url, body);

// The API's own words for a failed request ({"error": ...}), else the status.
export function errorText(status, data) {
  return (data && data.error) || 'HTTP ' + status;
}

// A yes/no question in the page's <dialog id="confirm">; resolves to true or false.
let answer = null;
export function ask(title, text, okLabel, danger) {
  if (answer) answer(false);
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  $('confirm-ok').classList.toggle('danger', !!danger);
  if (!$('confirm').open) $('confirm').showModal();
  $('confirm-ok').focus();
  return new Promise((resolve) => { answer = resolve; });
}

export function initConfirm() {
  const done = (yes) => {
    const a = answer;
    answer = null;
    if ($('confirm').open) $('confirm').close();
    if (a) a(yes);
  };
  $('confirm-cancel').addEventListener('click', () => done(false));
  $('confirm-ok').addEventListener('click', () => done(true));
  $('confirm').addEventListener('close', () => done(false));
}
