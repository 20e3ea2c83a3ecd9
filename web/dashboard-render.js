// NtR live dashboard: draws the shows (track tables, headings, "next") from the state.

import {
  state, hooks, trackHistory, latestByTrack, nextUnannounced, isFresh,
} from './dashboard-state.js';
import { $, el, clock, dateLabel, offsetText, plural } from './dashboard-util.js';
import { editControls, renderEditPanel } from './dashboard-edit.js';
import { outcome } from './dashboard-delivery.js';
import { renderHistory, setlistLinks } from './dashboard-history.js';

// ✓ first announce time · offset from the show start · ×repeats, then what became of the
// latest announce ("in #sewerchat 22:14:03", "sending…", "failed: …", "airs in 12 s",
// "cancelled"): outcome() words. A countdown carries data-airs-at (the ticker updates it).
export function outcomeWords(a, o, cls) {
  const words = el('small', { class: cls, text: o.text });
  if (o.waiting) words.dataset.airsAt = a.airs_at;
  return words;
}

function mark(show, h, latest) {
  if (!h && !latest) return el('span', { class: 'mark none', text: '—' });
  const o = outcome(latest);
  if (!h) {  // only cancelled announces: nothing was sent
    return el('span', { class: 'mark', 'data-delivery': o.state, 'data-kind': o.kind,
      title: o.title }, outcomeWords(latest, o, 'outcome'));
  }
  const sign = o.kind === 'error' ? '✗ ' : o.pending ? '… ' : '✓ ';
  return el('span', {
    class: 'mark', 'data-delivery': o.state, 'data-kind': o.kind,
    title: 'first announced ' + new Date(h.first.announced_at).toLocaleString() +
      (h.count > 1 ? ', ' + h.count + ' times' : '') + '\nlatest: ' + o.title,
  },
  sign + clock(h.first.announced_at),
  el('span', { class: 'offset', text: ' ' + offsetText(show.week_start, h.first.announced_at) }),
  h.count > 1 ? el('span', { class: 'repeats', text: ' ×' + h.count }) : null,
  outcomeWords(latest, o, 'outcome'));
}

function announceButton(show, t, h) {
  const btn = el('button', {
    type: 'button', class: h ? 'announce again secondary' : 'announce',
    text: h ? 'Again' : 'Announce',
    title: 'Announce #' + t.position + ' to the channel',
  });
  btn.dataset.show = show.id;
  btn.dataset.position = t.position;
  btn.addEventListener('click', () => hooks.announce(show.id, t.position, false));
  return btn;
}

function trackRow(show, t, hist, latest, isCurrent) {
  const h = hist.get(t.id);
  const when = mark(show, h, latest.get(t.id));
  const title = el('div', { class: 'title' },
    /^https?:\/\//i.test(t.permalink_url || '')
      ? el('a', { href: t.permalink_url, target: '_blank', rel: 'noopener noreferrer', text: t.title })
      : t.title);
  const artist = el('div', { class: 'artist muted', text: t.artist });
  const mobileWhen = el('div', { class: 'when-inline' }, when.cloneNode(true));
  const editing = isCurrent && state.editing;
  const classes = [h ? 'announced' : '', isCurrent && isFresh(t.id) ? 'fresh' : ''];
  const row = el('tr', { class: classes.filter(Boolean).join(' ') },
    el('td', { class: 'pos', text: String(t.position) }),
    el('td', { class: 'track' }, title, artist, mobileWhen),
    el('td', { class: 'when-col' }, when),
    el('td', { class: editing ? 'act edit' : 'act' },
      editing ? editControls(show, t) : announceButton(show, t, h)));
  row.dataset.position = t.position;
  row.dataset.track = t.id;
  if (isCurrent) row.id = 'track-' + t.position;
  return row;
}

function fillTable(table, show, isCurrent) {
  const hist = trackHistory(show);
  const latest = latestByTrack(show);
  table.querySelector('tbody').replaceChildren(
    ...show.tracks.map((t) => trackRow(show, t, hist, latest, isCurrent)));
}

export function showTitle(show, fallback) {
  const ep = show.episode != null ? 'Episode ' + show.episode : fallback;
  return ep + ' · ' + dateLabel(show.week_start) + ' – ' + dateLabel(show.week_end);
}

export function render() {
  const cur = state.current;
  if (cur) {
    $('current-title').textContent = showTitle(cur, 'This week');
    document.title = (cur.episode != null ? 'Ep ' + cur.episode + ' · ' : '') + 'NtR live · dashboard';
    const hist = trackHistory(cur);
    const done = cur.tracks.filter((t) => hist.has(t.id)).length;
    const next = nextUnannounced();
    $('current-meta').textContent = plural(cur.tracks.length, 'track') + ' · ' + done +
      ' announced' + (next ? ' · next up: #' + next.position : '');
    fillTable($('current-tracks'), cur, true);
    if (next) $('track-' + next.position).classList.add('next');
    $('current-tracks').hidden = cur.tracks.length === 0;
    $('current-empty').hidden = cur.tracks.length !== 0;
    document.body.classList.toggle('editing', state.editing);
    renderEditPanel(cur);
    renderHistory(cur);
  }
  const prev = state.previous;
  $('previous').hidden = !prev;
  if (prev) {
    $('previous-title').textContent = showTitle(prev, 'Previous show') + ' · ' +
      plural(prev.tracks.length, 'track');
    fillTable($('previous-tracks'), prev, false);
    setlistLinks($('previous-setlist'), prev);
  }
}
