// NtR live dashboard: shows from the public JSON routes, live state from /ws/dashboard,
// announces through POST /admin/announce with the session cookie (never a token).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const state = {
    current: null,        // show with tracks
    previous: null,       // show with tracks, or null
    marks: new Map(),     // show_id -> Map(position -> announcement)
    byId: new Map(),      // announcement id -> announcement
    mine: new Set(),      // announcement ids made from this tab
    busy: false,
    digits: '',
    digitTimer: null,
    socket: null,
    socketDelay: 1000,
    irc: null,
    poller: null,
  };

  // --- small helpers ----------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('data-')) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  function clock(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function dateLabel(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  }

  function ago(iso) {
    if (!iso) return 'never';
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  let toastTimer = null;
  function toast(text, kind) {
    const t = $('toast');
    t.textContent = text;
    t.dataset.kind = kind || 'info';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 9000 : 6000);
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.json();
  }

  async function postJSON(url, body) {
    const r = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? '{}' : JSON.stringify(body),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (r.status === 401) { location.href = '/login'; }
    return { status: r.status, data };
  }

  // --- shows --------------------------------------------------------------------

  async function loadShows() {
    try {
      const current = await getJSON('/playlist');
      let previous = null;
      const list = await getJSON('/shows?limit=5');
      const start = new Date(current.week_start).getTime();
      const older = (list.shows || []).filter((s) => new Date(s.week_start).getTime() < start);
      if (older.length) previous = await getJSON('/shows/' + older[0].id);
      state.current = current;
      state.previous = previous;
      render();
      askMarks();
    } catch (e) {
      toast('Could not load the playlist: ' + e.message, 'error');
    }
  }

  function markFor(showId, position) {
    const m = state.marks.get(showId);
    return m ? m.get(position) : undefined;
  }

  function addMark(a) {
    state.byId.set(a.id, a);
    if (!state.marks.has(a.show_id)) state.marks.set(a.show_id, new Map());
    const m = state.marks.get(a.show_id);
    const prev = m.get(a.position);
    if (!prev || new Date(a.announced_at) >= new Date(prev.announced_at)) m.set(a.position, a);
  }

  const DELIVERY = {
    sent: 'sent', queued: 'queued (IRC down)', failed: 'IRC failed', expired: 'expired (IRC down)',
  };

  function deliveryLabel(d) {
    if (d === 'failed' && state.irc && state.irc.enabled === false) return 'IRC off';
    return DELIVERY[d] || d;
  }

  function trackRow(show, t, isCurrent) {
    const a = markFor(show.id, t.position);
    const ircOff = state.irc && state.irc.enabled === false;
    const when = a ? el('span', { class: 'mark', 'data-delivery': a.delivery === 'failed' && ircOff ? 'off' : a.delivery },
      '✓ ' + clock(a.announced_at),
      a.delivery !== 'sent' ? el('small', { text: ' ' + deliveryLabel(a.delivery) }) : null)
      : el('span', { class: 'mark none', text: '—' });
    const btn = el('button', {
      type: 'button', class: a ? 'announce again secondary' : 'announce',
      text: a ? 'Again' : 'Announce',
      title: 'Announce #' + t.position + ' to the channel',
    });
    btn.dataset.show = show.id;
    btn.dataset.position = t.position;
    btn.addEventListener('click', () => announce(show.id, t.position, false));
    const title = el('div', { class: 'title' },
      /^https?:\/\//i.test(t.permalink_url || '') ? el('a', { href: t.permalink_url, target: '_blank', rel: 'noopener noreferrer', text: t.title }) : t.title);
    const artist = el('div', { class: 'artist muted', text: t.artist });
    const mobileWhen = el('div', { class: 'when-inline' }, when.cloneNode(true));
    const row = el('tr', { class: a ? 'announced' : '' },
      el('td', { class: 'pos', text: String(t.position) }),
      el('td', { class: 'track' }, title, artist, mobileWhen),
      el('td', { class: 'when-col' }, when),
      el('td', { class: 'act' }, btn));
    row.dataset.position = t.position;
    if (isCurrent) row.id = 'track-' + t.position;
    return row;
  }

  function fillTable(table, show, isCurrent) {
    const body = table.querySelector('tbody');
    body.replaceChildren(...show.tracks.map((t) => trackRow(show, t, isCurrent)));
  }

  function showTitle(show, fallback) {
    const ep = show.episode != null ? 'Episode ' + show.episode : fallback;
    return ep + ' · ' + dateLabel(show.week_start) + ' – ' + dateLabel(show.week_end);
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  function render() {
    const cur = state.current;
    if (cur) {
      $('current-title').textContent = showTitle(cur, 'This week');
      const done = cur.tracks.filter((t) => markFor(cur.id, t.position)).length;
      const next = nextUnannounced();
      $('current-meta').textContent = plural(cur.tracks.length, 'track') + ' · ' + done +
        ' announced' + (next ? ' · next up: #' + next.position : '');
      fillTable($('current-tracks'), cur, true);
      if (next) $('track-' + next.position).classList.add('next');
      $('current-tracks').hidden = cur.tracks.length === 0;
      $('current-empty').hidden = cur.tracks.length !== 0;
    }
    const prev = state.previous;
    $('previous').hidden = !prev;
    if (prev) {
      $('previous-title').textContent = showTitle(prev, 'Previous show') + ' · ' +
        plural(prev.tracks.length, 'track');
      fillTable($('previous-tracks'), prev, false);
    }
  }

  // --- announcing ---------------------------------------------------------------

  async function announce(showId, position, force) {
    if (state.busy) return;
    state.busy = true;
    document.body.classList.add('busy');
    try {
      const { status, data } = await postJSON('/admin/announce', { show_id: showId, position, force: !!force });
      if (status === 200) {
        state.mine.add(data.announcement_id);
        addMark({
          id: data.announcement_id, show_id: showId, position, message: data.message,
          announced_at: data.announced_at, delivery: data.delivery, who: data.who,
        });
        render();
        const relays = data.subscribers ? ' · ' + data.subscribers + ' relay(s)' : '';
        if (data.delivery === 'sent') toast('Sent #' + position + ': ' + data.message + relays, 'ok');
        else if (data.delivery === 'queued') toast('IRC is down: #' + position + ' is queued and goes out if IRC is back soon. ' + (data.irc || '') + relays, 'warn');
        else if (state.irc && state.irc.enabled === false) {
          toast('Announced #' + position + (data.subscribers ? ' to ' + data.subscribers +
            ' relay(s)' : '') + ' (IRC is off here)', data.subscribers ? 'ok' : 'warn');
        } else toast('IRC did not take #' + position + ': ' + (data.irc || 'failed') + relays, 'error');
      } else if (status === 409) {
        confirmAgain(showId, position, data.announced_at);
      } else if (status !== 401) {
        toast('Announce failed: ' + (data.error || 'HTTP ' + status), 'error');
      }
    } catch (e) {
      toast('Announce failed: ' + e.message, 'error');
    } finally {
      state.busy = false;
      document.body.classList.remove('busy');
    }
  }

  let pending = null;
  function confirmAgain(showId, position, announcedAt) {
    pending = { showId, position };
    $('confirm-text').textContent = 'Track #' + position + ' was already announced at ' +
      clock(announcedAt) + '. Send it to the channel again?';
    $('confirm').showModal();
    $('confirm-ok').focus();
  }

  function closeConfirm() { pending = null; $('confirm').close(); }

  $('confirm-cancel').addEventListener('click', closeConfirm);
  $('confirm-ok').addEventListener('click', () => {
    const p = pending;
    closeConfirm();
    if (p) announce(p.showId, p.position, true);
  });
  $('confirm').addEventListener('close', () => { pending = null; });

  function nextUnannounced() {
    const cur = state.current;
    if (!cur || !cur.tracks.length) return null;
    const marks = state.marks.get(cur.id) || new Map();
    let last = 0;
    let lastAt = 0;
    for (const a of marks.values()) {
      const t = new Date(a.announced_at).getTime();
      if (t >= lastAt) { lastAt = t; last = a.position; }
    }
    const open = cur.tracks.filter((t) => !marks.has(t.position));
    const after = open.find((t) => t.position > last);
    return (after || open[0] || null);
  }

  // --- keyboard -------------------------------------------------------------------

  function showDigits() {
    const b = $('keybuf');
    b.textContent = state.digits ? '#' + state.digits + ' ↵' : '';
    b.hidden = !state.digits;
  }

  function clearDigits() { state.digits = ''; clearTimeout(state.digitTimer); showDigits(); }

  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if ($('confirm').open) return;
    const tag = (ev.target && ev.target.tagName) || '';
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag)) return;
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

  // --- status bar -------------------------------------------------------------------

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
    const label = 'polled ' + ago(p.last_success);
    setPill('poll-status', label, p.last_error ? 'bad' : 'ok', p.last_error || 'last poll ok');
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
      } else if (status !== 401) toast('Refresh failed: ' + (data.error || 'HTTP ' + status), 'error');
    } catch (e) {
      toast('Refresh failed: ' + e.message, 'error');
    } finally {
      btn.removeAttribute('aria-busy');
      btn.disabled = false;
    }
  });

  // --- the dashboard socket -------------------------------------------------------------

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
        for (const a of ev.items || []) addMark(a);
        render();
        break;
      case 'announcement': {
        const a = ev.announcement;
        addMark(a);
        render();
        if (!state.mine.has(a.id) && state.current && a.show_id === state.current.id) {
          toast('#' + a.position + ' announced by ' + a.who, 'info');
        }
        break;
      }
      case 'delivery': {
        const a = state.byId.get(ev.id);
        if (a) { a.delivery = ev.delivery; render(); }
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

  function start() { loadShows(); connect(); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
