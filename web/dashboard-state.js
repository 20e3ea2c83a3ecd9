// NtR live dashboard: what the page knows (shows, announcements) and what follows from it.
// Announcements are matched to tracks by track id, so they follow the host's moves and a
// removed track's announce never marks the track that took its place.

export const state = {
  current: null,        // show with tracks
  previous: null,       // show with tracks, or null
  anns: new Map(),      // show_id -> Map(announcement id -> announcement)
  retracted: [],        // announcements retracted while this page was open (newest last)
  mine: new Set(),      // announcement ids made from this tab
  undone: new Set(),    // announcement ids retracted from this tab
  fresh: new Map(),     // track id -> time (ms) until which its row is highlighted as new
  editing: false,
  busy: false,
  digits: '',
  digitTimer: null,
  socket: null,
  socketDelay: 1000,
  irc: null,
  user: null,           // the logged-in host (hello)
  pending: null,        // {show_id, position} of the announce this tab is making
  poller: null,
};

// Hooks the entry module fills in, so the other modules need not import it.
export const hooks = { render() {}, announce() {}, loadShows() {}, tickToast() {} };

function showAnns(showId) {
  if (!state.anns.has(showId)) state.anns.set(showId, new Map());
  return state.anns.get(showId);
}

// The whole (non-retracted) history of a show, as the server has it now.
export function setAnnouncements(showId, items) {
  const m = new Map();
  for (const a of items || []) m.set(a.id, a);
  state.anns.set(showId, m);
}

const FINAL = new Set(['delivered', 'failed', 'expired', 'cancelled']);

// Per output, the newer of two delivery lists: a final state is never left, an older
// report (the POST answer may arrive after a socket event) never replaces a newer one.
function mergeDeliveries(had, got) {
  const out = new Map((had || []).map((d) => [d.output, d]));
  for (const d of got || []) {
    const o = out.get(d.output);
    if (o && (FINAL.has(o.state) || new Date(d.at) < new Date(o.at))) continue;
    out.set(d.output, d);
  }
  return [...out.values()];
}

// Add or update an announcement; returns the one kept (the merge of both).
export function addAnnouncement(a) {
  if (!a || a.id == null) return undefined;
  const m = showAnns(a.show_id);
  const had = m.get(a.id);
  if (!had) { m.set(a.id, Object.assign({}, a)); return m.get(a.id); }
  const keepDelivery = FINAL.has(had.delivery) && !FINAL.has(a.delivery);
  const merged = Object.assign({}, had, a, {
    deliveries: mergeDeliveries(had.deliveries, a.deliveries),
  });
  if (keepDelivery) {
    merged.delivery = had.delivery;
    merged.delivered_at = had.delivered_at;
  }
  m.set(a.id, merged);
  return merged;
}

export function findAnnouncement(id) {
  for (const m of state.anns.values()) if (m.has(id)) return m.get(id);
  return undefined;
}

// Forget a retracted announcement; remembers it for the history list. Returns it, if known.
export function removeAnnouncement(id, showId, position) {
  const m = state.anns.get(showId);
  const a = (m && m.get(id)) || findAnnouncement(id);
  for (const map of state.anns.values()) map.delete(id);
  if (!state.retracted.some((r) => r.id === id)) {
    state.retracted.push(Object.assign({ id, show_id: showId, position }, a || {},
      { retracted_at: new Date().toISOString() }));
  }
  return a;
}

export function announcementsOf(show) {
  const m = state.anns.get(show.id);
  return m ? [...m.values()].sort((x, y) =>
    new Date(x.announced_at) - new Date(y.announced_at) || x.id - y.id) : [];
}

// Cancelled before its air time: nothing was sent, so it does not count as announced.
export function isCancelled(a) {
  const ds = (a && a.deliveries) || [];
  return !!a && (a.delivery === 'cancelled' ||
    (ds.length > 0 && ds.every((d) => d.state === 'cancelled')));
}

// Per track id: {first, last, count} of its announcements in the show (cancelled ones
// left out; one waiting for its air time counts).
export function trackHistory(show) {
  const out = new Map();
  for (const a of announcementsOf(show)) {
    if (isCancelled(a)) continue;
    const h = out.get(a.track_id);
    if (!h) out.set(a.track_id, { first: a, last: a, count: 1 });
    else { h.last = a; h.count += 1; }
  }
  return out;
}

// Per track id: its latest announcement, cancelled ones included (the mark says so).
export function latestByTrack(show) {
  const out = new Map();
  for (const a of announcementsOf(show)) out.set(a.track_id, a);
  return out;
}

// "next" (what `n` announces): the first unannounced track after the last one announced
// (the most recent announce of a track still in the show), else the first unannounced one.
// One still waiting for its air time counts as announced, so `n` queues the one after it.
export function nextUnannounced() {
  const cur = state.current;
  if (!cur || !cur.tracks.length) return null;
  const hist = trackHistory(cur);
  const byId = new Map(cur.tracks.map((t) => [t.id, t]));
  let last = 0;
  for (const a of announcementsOf(cur)) {
    if (isCancelled(a)) continue;
    const t = byId.get(a.track_id);
    if (t) last = t.position;
  }
  const open = cur.tracks.filter((t) => !hist.has(t.id));
  return open.find((t) => t.position > last) || open[0] || null;
}

// Tracks that arrived since the show was last seen get a highlight for a few seconds.
export const FRESH_MS = 8000;
export function noteFresh(before, after) {
  if (!before || !after || before.id !== after.id) return [];
  const had = new Set(before.tracks.map((t) => t.id));
  const until = Date.now() + FRESH_MS;
  const added = after.tracks.filter((t) => !had.has(t.id));
  for (const t of added) state.fresh.set(t.id, until);
  if (added.length) setTimeout(() => { expireFresh(); hooks.render(); }, FRESH_MS + 50);
  return added;
}

export function expireFresh() {
  const now = Date.now();
  for (const [id, until] of state.fresh) if (until <= now) state.fresh.delete(id);
}

export function isFresh(trackId) {
  const until = state.fresh.get(trackId);
  return until !== undefined && until > Date.now();
}
