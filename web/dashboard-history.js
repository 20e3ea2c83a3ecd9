// NtR live dashboard: the show's announcement history, setlist downloads, Cancel of an
// announce before its air time and Undo of one already out (both DELETE
// /admin/announcements/{id}: before airs_at nothing is sent; after, a line out stays).

import {
  state, hooks, announcementsOf, removeAnnouncement, addAnnouncement, isCancelled,
} from './dashboard-state.js';
import { $, el, clock, offsetText, toast, sendJSON, errorText } from './dashboard-util.js';
import { outcome, outputBadges, cancelledText } from './dashboard-delivery.js';

export const UNDO_MS = 8000;

// Download links for GET /shows/{id}/setlist.{md,txt,csv,json}.
export function setlistLinks(box, show) {
  const links = ['md', 'txt', 'csv', 'json'].map((fmt) => el('a', {
    href: '/shows/' + show.id + '/setlist.' + fmt, download: '', text: fmt, 'data-fmt': fmt,
    role: 'button', class: 'secondary outline small',
    title: 'Download the setlist as ' + fmt.toUpperCase(),
  }));
  box.replaceChildren(el('span', { class: 'muted', text: 'Setlist' }), ...links);
}

function entry(show, a, nth, titles, retracted) {
  const t = titles.get(a.track_id);
  const what = t ? t.title + ' — ' + t.artist : (a.message || 'track ' + a.track_id);
  const li = el('li', { class: retracted ? 'retracted' : '' },
    el('span', { class: 'h-time', text: clock(a.announced_at) }),
    el('span', { class: 'h-offset muted', text: offsetText(show.week_start, a.announced_at) }),
    el('span', { class: 'h-pos', text: t ? '#' + t.position : '#' + a.position }),
    el('span', { class: 'h-what' }, what,
      !t && !retracted ? el('small', { class: 'muted', text: ' (removed from the show)' }) : null),
    note(a, nth, t, retracted),
    retracted ? null : outputBadges(a));
  li.dataset.id = a.id;
  return li;
}

// "repeat ×2 · nick", then what became of it (the same words as the toast and the mark);
// a failed one gets Send again (the track where it is now).
function note(a, nth, t, retracted) {
  if (retracted) return el('span', { class: 'h-note muted', text: 'retracted' });
  const o = outcome(a);
  const meta = [nth > 1 ? 'repeat ×' + nth : '', a.who || ''].filter(Boolean).join(' · ');
  const words = el('span', { class: 'h-state', 'data-kind': o.kind, text: o.text });
  words.dataset.delivery = o.state;
  if (o.waiting) words.dataset.airsAt = a.airs_at;
  words.title = o.title;
  let again = null;
  if (o.waiting) {
    again = el('button', {
      type: 'button', class: 'cancel-air small', text: 'Cancel',
      title: 'Cancel #' + a.position + ' before it airs: nothing is sent',
    });
    again.addEventListener('click', () => { again.disabled = true; cancelAnnounce(a.id, a.position); });
  } else if (o.retry && t) {
    again = el('button', {
      type: 'button', class: 'retry secondary outline small', text: 'Send again',
      title: 'Announce #' + t.position + ' once more (this try did not reach the channel)',
    });
    again.addEventListener('click', () => hooks.announce(a.show_id, t.position, true));
  }
  return el('span', { class: 'h-note' },
    meta ? el('span', { class: 'muted', text: meta + ' · ' }) : null, words, again);
}

// Every announce of the show in time order (repeats counted), plus the ones retracted while
// this page was open; and the setlist downloads.
export function renderHistory(show) {
  setlistLinks($('current-setlist'), show);
  const items = announcementsOf(show);
  const titles = new Map(show.tracks.map((t) => [t.id, t]));
  const seen = new Map();
  let counted = 0;
  const rows = items.map((a) => {
    if (isCancelled(a)) return { at: a.announced_at, li: entry(show, a, 1, titles, false) };
    counted += 1;
    const nth = (seen.get(a.track_id) || 0) + 1;
    seen.set(a.track_id, nth);
    return { at: a.announced_at, li: entry(show, a, nth, titles, false) };
  });
  for (const r of state.retracted) {
    if (r.show_id === show.id && r.announced_at) {
      rows.push({ at: r.announced_at, li: entry(show, r, 1, titles, true) });
    }
  }
  rows.sort((x, y) => new Date(x.at) - new Date(y.at));
  const announcedTracks = seen.size;
  $('history-count').textContent = counted
    ? counted + ' announce' + (counted === 1 ? '' : 's') + ' of ' + announcedTracks +
      ' track' + (announcedTracks === 1 ? '' : 's')
    : 'nothing announced yet';
  $('history-list').replaceChildren(...rows.map((r) => r.li));
  $('history-empty').hidden = rows.length !== 0;
}

// After an announce from this tab: the toast offers Undo for a few seconds.
export function undoAction(annId, position) {
  return {
    id: 'toast-action', label: 'Undo', ms: UNDO_MS,
    title: 'Take #' + position + ' off the history (the IRC line cannot be unsent)',
    run: () => undo(annId, position),
  };
}

export async function undo(annId, position) {
  state.undone.add(annId);  // its "retracted" event may beat the answer: no second toast
  try {
    const { status, data } = await sendJSON('DELETE', '/admin/announcements/' + annId);
    if (status === 200) {
      const a = removeAnnouncement(annId, state.current && state.current.id, position);
      hooks.render();
      toast('Undone: #' + ((a && a.position) || position) + ' is off the history and "next" ' +
        'is back. A line already in the channel cannot be unsent.', 'ok');
    } else if (status !== 401) {
      toast('Undo failed: ' + errorText(status, data), 'error');
    }
  } catch (e) {
    toast('Undo failed: ' + e.message, 'error');
  }
}

// Cancel an announce still waiting for its air time: nothing reaches any output. If it
// aired meanwhile the server strikes it off the history instead (the line stays out).
export async function cancelAnnounce(annId, position) {
  state.undone.add(annId);  // a "retracted" answer needs no second toast
  try {
    const { status, data } = await sendJSON('DELETE', '/admin/announcements/' + annId);
    if (status === 200 && data.status === 'cancelled') {
      const a = addAnnouncement(data.announcement) || { position };
      hooks.render();
      toast(cancelledText(a), 'ok');
    } else if (status === 200) {
      removeAnnouncement(annId, state.current && state.current.id, position);
      hooks.render();
      toast('Too late to cancel: #' + position + ' had already aired. It is off the history; ' +
        'a line already in the channel cannot be unsent.', 'warn');
    } else if (status !== 401) {
      toast('Cancel failed: ' + errorText(status, data), 'error');
    }
  } catch (e) {
    toast('Cancel failed: ' + e.message, 'error');
  }
}

// The toast's Cancel while an announce waits for its air time.
export function cancelAction(a) {
  return {
    id: 'toast-cancel', label: 'Cancel', class: 'cancel-air',
    title: 'Cancel #' + a.position + ' before it airs: nothing is sent',
    run: () => cancelAnnounce(a.id, a.position),
  };
}

// A "retracted" event from the dashboard socket (this tab, another tab or the bearer API).
export function onRetracted(ev) {
  removeAnnouncement(ev.id, ev.show_id, ev.position);
  hooks.render();
  if (!state.undone.has(ev.id) && state.current && ev.show_id === state.current.id) {
    toast('The announce of #' + ev.position + ' was retracted elsewhere (a line already in ' +
      'the channel stays there)', 'info');
  }
}
