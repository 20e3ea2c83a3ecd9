// NtR live dashboard: announcing (POST /admin/announce with the session cookie) and the
// toast that follows one announce as its deliveries change: with a delay first "#3 airs in
// 12 s" with Cancel, then "sending…", "in #chan 22:14:03" or "failed: <the server's
// reason>" with Send again. Without a delay Undo stays for UNDO_MS.

import { state, hooks, addAnnouncement, findAnnouncement } from './dashboard-state.js';
import { $, clock, toast, postJSON, errorText, ask } from './dashboard-util.js';
import { outcome, outputBadges, secondsLeft, cancelledText } from './dashboard-delivery.js';
import { undoAction, cancelAction, UNDO_MS } from './dashboard-history.js';

// The announcement the toast is about: {id, undoUntil, by, counting, spoken, spokeSoon}.
let shown = null;
// The countdown is read out by screen readers at its start and once more at SOON_S.
const SOON_S = 5;

// The track's position now (it may have moved since), or null when it left the show.
function positionNow(a) {
  for (const s of [state.current, state.previous]) {
    if (s && s.id === a.show_id) {
      const t = s.tracks.find((x) => x.id === a.track_id);
      return t ? t.position : null;
    }
  }
  return null;
}

function trackTitle(a) {
  for (const s of [state.current, state.previous]) {
    if (s && s.id === a.show_id) {
      const t = s.tracks.find((x) => x.id === a.track_id);
      if (t) return t.title;
    }
  }
  return '';
}

// "Send again": the same track, forced (it was announced already).
export function retryAction(a) {
  const pos = positionNow(a);
  if (pos == null) return null;
  return {
    id: 'toast-retry', label: 'Send again',
    title: 'Announce #' + pos + ' once more (the last try did not reach the channel)',
    run: () => hooks.announce(a.show_id, pos, true),
  };
}

// Before its air time: "#3 airs in 12 s · Title" with Cancel; the live region says it at
// the start and at SOON_S seconds, not on every tick.
function paintCountdown(a, title) {
  const s = secondsLeft(a);
  const visible = '#' + a.position + ' airs in ' + s + ' s' + (title ? ' · ' + title : '') +
    (shown.by ? ' (announced by ' + shown.by + ')' : '');
  if (!shown.spoken) {
    shown.spoken = visible + '. Cancel stops it.';
    shown.spokeSoon = s <= SOON_S;
  } else if (s <= SOON_S && !shown.spokeSoon) {
    shown.spokeSoon = true;
    shown.spoken = '#' + a.position + ' airs in ' + s + ' s';
  }
  toast(visible, 'info', [cancelAction(a)], s * 1000 + 20000,
    { spoken: shown.spoken, outputs: outputBadges(a) });
}

function paint() {
  const a = findAnnouncement(shown.id);
  if (!a) return;
  const o = outcome(a);
  const title = trackTitle(a);
  shown.counting = o.waiting;
  if (o.waiting) { paintCountdown(a, title); return; }
  if (o.state === 'cancelled') { toast(cancelledText(a), 'ok'); return; }
  const actions = [];
  const left = a.airs_at ? 0 : shown.undoUntil - Date.now();  // with a delay: Cancel was it
  if (left > 0) actions.push(Object.assign(undoAction(a.id, a.position), { ms: left }));
  const retry = o.retry ? retryAction(a) : null;
  if (retry) actions.push(retry);
  const who = shown.by ? ' announced by ' + shown.by : '';
  const ms = o.kind === 'error' ? 20000 : o.pending ? 15000 : 6000;
  toast('#' + a.position + (title ? ' ' + title : '') + who + ': ' + o.text, o.kind, actions,
    Math.max(ms, left), { outputs: outputBadges(a) });
}

// Every second: the countdown toast counts on (unless another message took its place).
export function tickToast() {
  const counting = shown && shown.counting && toastVisible();
  if (counting && $('toast-text').querySelector('.seen')) paint();
}

// Show (or update) the toast for announcement `a`.
function showToast(a, opts) {
  const o = opts || {};
  if (!shown || shown.id !== a.id) shown = { id: a.id, undoUntil: 0, by: o.by || null };
  if (o.undo && !shown.undoUntil) shown.undoUntil = Date.now() + UNDO_MS;
  paint();
}

function toastVisible() {
  return !document.getElementById('toast').hidden;
}

// An announcement changed (socket event or answer): redraw, and tell the host when it is
// about theirs. `before` is its outcome text before the change.
function changed(a, before) {
  hooks.render();
  if (shown && shown.id === a.id && toastVisible()) { paint(); return; }
  const o = outcome(a);
  // Another announce counting down keeps the toast (and its Cancel) unless this one failed;
  // the mark and the history say what became of this one.
  if (shown && shown.counting && toastVisible() && o.kind !== 'error') return;
  if (state.mine.has(a.id) && o.final && o.text !== before) showToast(a);
}

function isPending(a) {
  const p = state.pending;
  return !!p && p.show_id === a.show_id && p.position === a.position &&
    (!state.user || a.who === 'web:' + state.user) && !state.mine.has(a.id);
}

// The socket's "announcement" event.
export function onAnnouncement(ev) {
  const a = addAnnouncement(ev.announcement);
  if (!a) return;
  if (isPending(a)) {  // this tab's announce: the answer is still on its way
    state.mine.add(a.id);
    hooks.render();
    showToast(a, { undo: true });
    return;
  }
  hooks.render();
  if (!state.mine.has(a.id) && state.current && a.show_id === state.current.id) {
    showToast(a, { by: a.who });
  }
}

// The socket's "delivery" event: the full latest announcement.
export function onDelivery(ev) {
  if (state.retracted.some((r) => r.id === ev.id)) return;  // undone: stays off the page
  const before = findAnnouncement(ev.id);
  const was = before ? outcome(before).text : '';
  const a = addAnnouncement(ev.announcement || Object.assign({}, before || {}, {
    id: ev.id, show_id: ev.show_id, position: ev.position, delivery: ev.delivery,
  }));
  if (a) changed(a, was);
}

const EXTRA = ['status', 'announcement_id', 'irc', 'subscribers', 'track'];

export async function announce(showId, position, force) {
  if (state.busy) return;
  state.busy = true;
  state.pending = { show_id: showId, position };
  document.body.classList.add('busy');
  try {
    const { status, data } = await postJSON('/admin/announce', { show_id: showId, position, force: !!force });
    if (status === 200) {
      const id = data.announcement_id != null ? data.announcement_id : data.id;
      state.mine.add(id);
      const rec = { id, track_id: data.track ? data.track.id : undefined };
      for (const [k, v] of Object.entries(data)) if (!EXTRA.includes(k)) rec[k] = v;
      const a = addAnnouncement(Object.assign(rec, { id }));
      hooks.render();
      if (shown && shown.id === id) shown.by = null;
      showToast(a, { undo: true });
    } else if (status === 409) {
      confirmAgain(showId, position, data.announced_at);
    } else if (status !== 401) {
      toast('Announce failed: ' + errorText(status, data), 'error');
    }
  } catch (e) {
    toast('Announce failed: ' + e.message, 'error');
  } finally {
    state.busy = false;
    state.pending = null;
    document.body.classList.remove('busy');
  }
}

async function confirmAgain(showId, position, announcedAt) {
  const yes = await ask('Announce again?', 'Track #' + position + ' was already announced at ' +
    clock(announcedAt) + '. Send it to the channel again?', 'Announce again', false);
  if (yes) announce(showId, position, true);
}
