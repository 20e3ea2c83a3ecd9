// NtR live dashboard (entry module): shows from the public JSON routes, live state from
// /ws/dashboard, announces through POST /admin/announce with the session cookie (never a
// token), keyboard shortcuts and the status bar. Announcing and its toast, rendering,
// history/undo/cancel and playlist editing live in dashboard-announce.js,
// dashboard-render.js, dashboard-history.js and dashboard-edit.js; the delivery words in
// dashboard-delivery.js; the delay control in dashboard-delay.js; the countdown's tick in
// dashboard-countdown.js.

import { state, hooks, setAnnouncements, nextUnannounced, noteFresh } from './dashboard-state.js';
import { $, ago, toast, getJSON, postJSON, errorText, initConfirm } from './dashboard-util.js';
import { render } from './dashboard-render.js';
import { onRetracted } from './dashboard-history.js';
import { announce, onAnnouncement, onDelivery, tickToast } from './dashboard-announce.js';
import { initEdit } from './dashboard-edit.js';
import { initDelay, renderDelay } from './dashboard-delay.js';
import { startCountdown } from './dashboard-countdown.js';

// --- shows --------------------------------------------------------------------------

let loading = null;
let again = false;

// Fetch the current and previous show; a call while one runs makes it run once more.
function loadShows() {
  if (loading) { again = true; return loading; }
  loading = (async () => {
    do {
      again = false;
      try {
        const current = await getJSON('/playlist');
        const list = await getJSON('/shows?limit=5');
        const start = new Date(current.week_start).getTime();
        const older = (list.shows || []).filter((s) => new Date(s.week_start).getTime() < start);
        const previous = older.length ? await getJSON('/shows/' + older[0].id) : null;
        noteFresh(state.current, current);
        state.current = current;
        state.previous = previous;
        render();
        askMarks();
      } catch (e) {
        toast('Could not load the playlist: ' + e.message, 'error');
      }
    } while (again);
    loading = null;
  })();
  return loading;
}

// --- keyboard -----------------------------------------------------------------------

function showDigits() {
  const b = $('keybuf');
  b.textContent = state.digits ? '#' + state.digits + ' ↵' : '';
  b.hidden = !state.digits;
}

function clearDigits() { state.digits = ''; clearTimeout(state.digitTimer); showDigits(); }

function typing(target) {
  if (!target) return false;
  return ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName || '') || !!target.isContentEditable;
}

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if ($('confirm').open) return;
  if (typing(ev.target)) return;
  if (ev.key >= '0' && ev.key <= '9') {
    if (state.digits.length < 4) state.digits += ev.key;
    clearTimeout(state.digitTimer);
    state.digitTimer = setTimeout(clearDigits, 5000);
    showDigits();
    ev.preventDefault();
  } else if (ev.key === 'Enter' && state.digits) {
    const pos = parseInt(state.digits, 10);
    clearDigits();
    ev.preventDefault();
    const cur = state.current;
    if (cur && cur.tracks.some((t) => t.position === pos)) announce(cur.id, pos, false);
    else toast('No track #' + pos + ' in the current show', 'error');
  } else if (ev.key === 'Escape') {
    clearDigits();
  } else if (ev.key === 'Backspace' && state.digits) {
    state.digits = state.digits.slice(0, -1);
    showDigits();
    ev.preventDefault();
  } else if (ev.key === 'n' || ev.key === 'N') {
    clearDigits();
    const t = nextUnannounced();
    if (t) announce(state.current.id, t.position, false);
    else toast('Every track of the current show has been announced', 'info');
    ev.preventDefault();
  }
});

// --- status bar ---------------------------------------------------------------------

function setPill(id, text, st, title) {
  const p = $(id);
  p.textContent = text;
  p.dataset.state = st;
  if (title) p.title = title;
}

function renderIrc(irc) {
  const was = state.irc;
  state.irc = irc;
  // IRC on/off or up/down changes the words of queued announces ("waiting for IRC")
  const why = (i) => ((i && i.join_refusals) || []).map((r) => r.message).join('|');
  if (irc && (!was || was.enabled !== irc.enabled || was.connected !== irc.connected ||
      why(was) !== why(irc))) render();
  if (!irc || !irc.enabled) return setPill('irc-status', 'IRC off', 'off', 'IRC is not configured');
  const chans = (irc.channels || []).join(' ');
  // a refused JOIN, in the server's words: "#sewerchat: banned (474 Cannot join channel (+b))"
  const refused = irc.join_refusals || [];
  if (irc.connected && refused.length) {
    setPill('irc-status', 'IRC ' + (chans ? chans + ' · ' : '') + refused.map((r) => r.message).join(' · '),
      chans ? 'warn' : 'bad', 'connected as ' + (irc.nick || '?') + '; ' + refused.map((r) =>
        r.message + ', trying again in ' + Math.max(1, Math.round(r.retry_in)) + ' s').join('; '));
  } else if (irc.connected) {
    setPill('irc-status', 'IRC ' + (chans || 'connected'), chans ? 'ok' : 'warn',
      'connected as ' + (irc.nick || '?') + (chans ? ', joined ' + chans : ', no channel joined'));
  } else if (/^IRC link lost/.test(irc.last_error || '')) {
    // a dead link was declared: say so at once, until the rejoin
    setPill('irc-status', 'IRC link lost — reconnecting', 'bad', irc.last_error);
  } else {
    const q = irc.queued ? ' · ' + irc.queued + ' queued' : '';
    setPill('irc-status', 'IRC down' + q, 'bad', irc.last_error || 'disconnected');
  }
}

// "2 relays"; the tooltip names them (and which ones confirm what they post).
function renderRelays(n, relays) {
  const names = (relays || []).map((r) => r.name + (r.acks ? '' : ' (no acks)'));
  setPill('relay-status', n + ' relay' + (n === 1 ? '' : 's'), n ? 'ok' : 'off',
    names.length ? 'relays: ' + names.join(', ')
      : n ? n + ' relay(s) subscribed to /ws/announce' : 'no relay subscribed to /ws/announce');
}

function renderPoller(p) {
  state.poller = p;
  if (!p) return setPill('poll-status', 'poll ?', 'unknown');
  if (p.running) return setPill('poll-status', 'polling…', 'warn');
  setPill('poll-status', 'polled ' + ago(p.last_success), p.last_error ? 'bad' : 'ok',
    p.last_error || 'last poll ok');
}

setInterval(() => { renderPoller(state.poller); }, 30000);

$('refresh').addEventListener('click', async () => {
  const btn = $('refresh');
  btn.setAttribute('aria-busy', 'true');
  btn.disabled = true;
  try {
    const { status, data } = await postJSON('/admin/refresh');
    if (status === 200) {
      toast('Refreshed: ' + (data.summary || 'ok'), 'ok');
      if (data.poller) renderPoller(data.poller);
      await loadShows();
    } else if (status !== 401) toast('Refresh failed: ' + errorText(status, data), 'error');
  } catch (e) {
    toast('Refresh failed: ' + e.message, 'error');
  } finally {
    btn.removeAttribute('aria-busy');
    btn.disabled = false;
  }
});

// --- the dashboard socket -----------------------------------------------------------

function send(obj) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(obj));
}

function askMarks() {
  for (const s of [state.current, state.previous]) if (s) send({ type: 'announcements', show_id: s.id });
}

function onEvent(ev) {
  switch (ev.type) {
    case 'hello':
      state.user = ev.user || null;
      renderIrc(ev.irc); renderRelays(ev.subscribers || 0, ev.relays); renderPoller(ev.poller);
      renderDelay(ev.delay);
      askMarks();
      break;
    case 'irc': renderIrc(ev.irc); break;
    case 'subscribers': renderRelays(ev.subscribers || 0, ev.relays); break;
    case 'poller': renderPoller(ev.poller); break;
    case 'delay': renderDelay(ev.delay); break;
    case 'playlist': loadShows(); break;
    case 'announcements':
      setAnnouncements(ev.show_id, ev.items);
      render();
      break;
    case 'announcement': onAnnouncement(ev); break;
    case 'retracted': onRetracted(ev); break;
    case 'delivery': onDelivery(ev); break;
    default: break;
  }
}

function connect() {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/dashboard';
  const ws = new WebSocket(url);
  state.socket = ws;
  ws.addEventListener('open', () => {
    state.socketDelay = 1000;
    setPill('socket-status', 'live', 'ok', 'live updates connected');
  });
  ws.addEventListener('message', (m) => {
    try { onEvent(JSON.parse(m.data)); } catch (e) { /* ignore a bad frame */ }
  });
  ws.addEventListener('close', () => {
    state.socket = null;
    setPill('socket-status', 'offline', 'bad', 'live updates disconnected; retrying');
    setTimeout(async () => {
      // Still logged in? A 303 to /login means the session is gone.
      try {
        const r = await fetch('/dashboard', { credentials: 'same-origin', redirect: 'manual' });
        if (r.type === 'opaqueredirect' || r.status === 303) { location.href = '/login'; return; }
      } catch (e) { /* server down: keep trying */ }
      connect();
      loadShows();
    }, state.socketDelay);
    state.socketDelay = Math.min(state.socketDelay * 2, 15000);
  });
}

hooks.render = render;
hooks.announce = announce;
hooks.loadShows = loadShows;
hooks.tickToast = tickToast;
initConfirm();
initEdit();
initDelay();
startCountdown();
loadShows();
connect();
