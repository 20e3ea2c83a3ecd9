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
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
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

// --- the toast: one line of news, optionally with one action button (e.g. Undo) --------

let toastTimer = null;
let toastAction = null;
let countdownTimer = null;

export function toast(text, kind, action) {
  const t = $('toast');
  const btn = $('toast-action');
  $('toast-text').textContent = text;
  t.dataset.kind = kind || 'info';
  t.hidden = false;
  toastAction = action || null;
  btn.hidden = !action;
  if (action) {
    btn.textContent = action.label;
    btn.title = action.title || '';
    btn.disabled = false;
  }
  clearTimeout(toastTimer);
  clearInterval(countdownTimer);
  const ms = action ? action.ms : (kind === 'error' ? 9000 : 6000);
  // The action's time left: ticking on screen (aria-hidden), said once in the live region.
  const cd = $('toast-countdown');
  cd.hidden = !action;
  $('toast-sr').textContent = action ? ' ' + action.label + ' possible for ' +
    Math.round(ms / 1000) + ' seconds.' : '';
  if (action) {
    const end = Date.now() + ms;
    const tick = () => { cd.textContent = Math.max(0, Math.ceil((end - Date.now()) / 1000)) + ' s'; };
    tick();
    countdownTimer = setInterval(tick, 250);
  }
  toastTimer = setTimeout(() => {
    t.hidden = true; toastAction = null; clearInterval(countdownTimer);
  }, ms);
}

export function initToast() {
  $('toast-action').addEventListener('click', () => {
    const a = toastAction;
    toastAction = null;
    $('toast-action').disabled = true;
    if (a) a.run();
  });
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
