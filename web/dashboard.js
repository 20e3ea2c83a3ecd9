// NtR live dashboard (entry module): shows from the public JSON routes, live state from
// /ws/dashboard, announces through POST /admin/announce with the session cookie (never a
// token), keyboard shortcuts and the status bar. Rendering, history/undo and playlist
// editing live in dashboard-render.js, dashboard-history.js and dashboard-edit.js.

import {
  state, hooks, setAnnouncements, addAnnouncement, nextUnannounced, noteFresh,
} from './dashboard-state.js';
import {
  $, clock, ago, toast, getJSON, postJSON, errorText, ask, initToast, initConfirm,
} from './dashboard-util.js';
import { render } from './dashboard-render.js';
import { undoAction, onRetracted } from './dashboard-history.js';
import { initEdit } from './dashboard-edit.js';

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

// --- announcing ---------------------------------------------------------------------

async function announce(showId, position, force) {
  if (state.busy) return;
  state.busy = true;
  document.body.classList.add('busy');
  try {
    const { status, data } = await postJSON('/admin/announce', { show_id: showId, position, force: !!force });
    if (status === 200) {
      state.mine.add(data.announcement_id);
      addAnnouncement({
        id: data.announcement_id, show_id: showId, position, message: data.message,
        track_id: data.track ? data.track.id : undefined,
        announced_at: data.announced_at, delivery: data.delivery, who: data.who,
      });
      render();
      const undo = undoAction(data.announcement_id, position);
      const relays = data.subscribers ? ' · ' + data.subscribers + ' relay(s)' : '';
      if (data.delivery === 'sent') toast('Sent #' + position + ': ' + data.message + relays, 'ok', undo);
      else if (data.delivery === 'queued') toast('IRC is down: #' + position + ' is queued and goes out if IRC is back soon. ' + (data.irc || '') + relays, 'warn', undo);
      else if (state.irc && state.irc.enabled === false) {
        toast('Announced #' + position + (data.subscribers ? ' to ' + data.subscribers +
          ' relay(s)' : '') + ' (IRC is off here)', data.subscribers ? 'ok' : 'warn', undo);
      } else toast('IRC did not take #' + position + ': ' + (data.irc || 'failed') + relays, 'error', undo);
    } else if (status === 409) {
      confirmAgain(showId, position, data.announced_at);
    } else if (status !== 401) {
      toast('Announce failed: ' + errorText(status, data), 'error');
    }
  } catch (e) {
    toast('Announce failed: ' + e.message, 'error');
  } finally {
    state.busy = false;
    document.body.classList.remove('busy');
  }
}

async function confirmAgain(showId, position, announcedAt) {
  const yes = await ask('Announce again?', 'Track #' + position + ' was already announced at ' +
    clock(announcedAt) + '. Send it to the channel again?', 'Announce again', false);
  if (yes) announce(showId, position, true);
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
  const was = state.irc && state.irc.enabled;
  state.irc = irc;
  if (irc && was !== irc.enabled) render();
  if (!irc || !irc.enabled) return setPill('irc-status', 'IRC off', 'off', 'IRC is not configured');
  const chans = (irc.channels || []).join(' ');
  if (irc.connected) {
    setPill('irc-status', 'IRC ' + (chans || 'connected'), chans ? 'ok' : 'warn',
      'connected as ' + (irc.nick || '?') + (chans ? ', joined ' + chans : ', no channel joined'));
  } else {
    const q = irc.queued ? ' · ' + irc.queued + ' queued' : '';
    setPill('irc-status', 'IRC down' + q, 'bad', irc.last_error || 'disconnected');
  }
}

function renderRelays(n) {
  setPill('relay-status', n + ' relay' + (n === 1 ? '' : 's'), n ? 'ok' : 'off');
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
      renderIrc(ev.irc); renderRelays(ev.subscribers || 0); renderPoller(ev.poller);
      askMarks();
      break;
    case 'irc': renderIrc(ev.irc); break;
    case 'subscribers': renderRelays(ev.subscribers || 0); break;
    case 'poller': renderPoller(ev.poller); break;
    case 'playlist': loadShows(); break;
    case 'announcements':
      setAnnouncements(ev.show_id, ev.items);
      render();
      break;
    case 'announcement': {
      const a = ev.announcement;
      addAnnouncement(a);
      render();
      if (!state.mine.has(a.id) && state.current && a.show_id === state.current.id) {
        toast('#' + a.position + ' announced by ' + a.who, 'info');
      }
      break;
    }
    case 'retracted': onRetracted(ev); break;
    case 'delivery': {
      for (const m of state.anns.values()) {
        const a = m.get(ev.id);
        if (a) a.delivery = ev.delivery;
      }
      render();
      if (ev.delivery === 'sent') toast('Queued #' + ev.position + ' has now been sent to IRC', 'ok');
      else toast('Queued #' + ev.position + ' was not sent: ' + ev.delivery, 'error');
      break;
    }
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
initToast();
initConfirm();
initEdit();
loadShows();
connect();
