// NtR live dashboard: the host's playlist edits (add by SoundCloud URL or by hand, move,
// remove) and the episode number, through the admin API with the session cookie. Every edit is pushed to the
// other dashboards and the public page by the server ("playlist" events).

import { state, hooks, noteFresh } from './dashboard-state.js';
import { $, el, toast, sendJSON, errorText, ask } from './dashboard-util.js';

let busy = false;

// One edit request; on success the answer's show replaces the current one at once.
async function edit(method, url, body, done, failed) {
  if (busy) return false;
  busy = true;
  document.body.classList.add('busy');
  const before = state.current;  // the show as it was when the host asked
  try {
    const { status, data } = await sendJSON(method, url, body);
    if (status === 200 && data.show) {
      if (before && before.id === data.show.id) {
        const added = noteFresh(before, data.show);
        // the "playlist" event may have brought this (or a newer) show already
        if (state.current === before) state.current = data.show;
        hooks.render();
        if (done) done(data.show, added);
      }
      return true;
    }
    if (status !== 401 && !(failed && failed(status, data))) toast(errorText(status, data), 'error');
  } catch (e) {
    toast('Edit failed: ' + e.message, 'error');
  } finally {
    busy = false;
    document.body.classList.remove('busy');
  }
  return false;
}

function tracksUrl(show, position) {
  return '/admin/shows/' + show.id + '/tracks' + (position ? '/' + position : '');
}

export function move(show, from, to) {
  return edit('PATCH', tracksUrl(show, from), { to }, () =>
    toast('Moved #' + from + ' to #' + to, 'ok'));
}

export async function remove(show, t) {
  const yes = await ask('Remove from the playlist?',
    '#' + t.position + ': ' + t.title + ' by ' + t.artist + ' leaves this show for good ' +
    '(later polls will not bring it back).', 'Remove', true);
  if (!yes) return false;
  return edit('DELETE', tracksUrl(show, t.position), undefined, () =>
    toast('Removed ' + t.title + ' from the playlist', 'ok'));
}

// ↑ ↓ ✕ for one row in edit mode (big targets, one tap each; removing asks first).
export function editControls(show, t) {
  const last = show.tracks.length;
  const up = el('button', {
    type: 'button', class: 'secondary outline icon move-up', text: '↑',
    disabled: t.position === 1, 'aria-label': 'Move #' + t.position + ' up',
  });
  const down = el('button', {
    type: 'button', class: 'secondary outline icon move-down', text: '↓',
    disabled: t.position === last, 'aria-label': 'Move #' + t.position + ' down',
  });
  const del = el('button', {
    type: 'button', class: 'secondary outline icon remove', text: '✕',
    'aria-label': 'Remove #' + t.position + ' from the playlist',
  });
  up.addEventListener('click', () => move(show, t.position, t.position - 1));
  down.addEventListener('click', () => move(show, t.position, t.position + 1));
  del.addEventListener('click', () => remove(show, t));
  return el('div', { class: 'edit-buttons' }, up, down, del);
}

export function renderEditPanel(show) {
  $('edit-panel').hidden = !state.editing;
  const toggle = $('edit-toggle');
  toggle.textContent = state.editing ? 'Done editing' : 'Edit playlist';
  toggle.setAttribute('aria-pressed', String(state.editing));
  const ep = $('episode-input');
  if (document.activeElement !== ep) ep.value = show.episode == null ? '' : String(show.episode);
  $('move-from').max = $('move-to').max = $('add-position').max = String(show.tracks.length + 1);
  if ($('manual-position')) $('manual-position').max = String(show.tracks.length + 1);
}

function whole(value) {
  const v = String(value || '').trim();
  return /^\d+$/.test(v) ? parseInt(v, 10) : null;
}

// "Not on SoundCloud?": title, artist, any http(s) URL (optional) and a position; built here
// so the page's HTML stays as it is. Also the fallback when a SoundCloud URL cannot be resolved.
function field(id, label, attrs, cls) {
  return el('label', { htmlFor: id, class: cls || 'grow' }, label, el('input', { id, ...attrs }));
}

function manualForm() {
  const form = el('form', { id: 'manual-form', class: 'edit-row', autocomplete: 'off' },
    field('manual-title', 'Title', { type: 'text', required: true, maxLength: 200 }),
    field('manual-artist', 'Artist', { type: 'text', required: true, maxLength: 200 }),
    field('manual-url', 'Link (optional)', { type: 'url', inputMode: 'url', maxLength: 2000,
      placeholder: 'https://… (Bandcamp, YouTube, anything)' }),
    field('manual-position', 'at #', { type: 'number', min: 1, inputMode: 'numeric',
      placeholder: 'end' }, 'narrow'),
    el('button', { type: 'submit', id: 'manual-submit', text: 'Add by hand' }));
  const box = el('details', { id: 'manual-add', class: 'manual-add' },
    el('summary', { text: 'Not on SoundCloud? Add a track by hand' }), form);
  $('add-form').after(box);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const show = state.current;
    if (!show) return;
    const body = { title: $('manual-title').value, artist: $('manual-artist').value };
    const url = $('manual-url').value.trim();
    if (url) body.url = url;
    const pos = whole($('manual-position').value);
    if ($('manual-position').value.trim() && !pos) { toast('Position must be a number', 'error'); return; }
    if (pos) body.position = pos;
    const ok = await edit('POST', tracksUrl(show), body, (s, added) => {
      const t = added[0];
      toast(t ? 'Added #' + t.position + ': ' + t.title + ' by ' + t.artist : 'Added', 'ok');
    });
    if (ok) {
      for (const id of ['manual-title', 'manual-artist', 'manual-url', 'manual-position']) $(id).value = '';
      box.open = false;
    }
  });
}

function offerManual(url, position) {
  const box = $('manual-add');
  box.open = true;
  $('manual-url').value = url;
  $('manual-position').value = position ? String(position) : '';
  $('manual-title').focus();
}

export function initEdit() {
  manualForm();

  $('edit-toggle').addEventListener('click', () => {
    state.editing = !state.editing;
    hooks.render();
    if (state.editing) $('add-url').focus();
  });

  $('add-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const show = state.current;
    if (!show) return;
    const url = $('add-url').value.trim();
    if (!url) { toast('Paste a SoundCloud track URL first', 'error'); return; }
    const body = { url };
    const pos = whole($('add-position').value);
    if ($('add-position').value.trim() && !pos) { toast('Position must be a number', 'error'); return; }
    if (pos) body.position = pos;
    $('add-submit').setAttribute('aria-busy', 'true');
    const ok = await edit('POST', tracksUrl(show), body, (s, added) => {
      const t = added[0];
      toast(t ? 'Added #' + t.position + ': ' + t.title + ' by ' + t.artist : 'Added', 'ok');
    }, (status, data) => {
      // SoundCloud down (424) or not knowing the track (404): offer to add it by hand
      if (status !== 424 && status !== 404) return false;
      toast(errorText(status, data) + ' · add it by hand instead?', 'error',
        { id: 'toast-manual', label: 'Add by hand', ms: 20000, run: () => offerManual(url, pos) });
      return true;
    });
    $('add-submit').removeAttribute('aria-busy');
    if (ok) { $('add-url').value = ''; $('add-position').value = ''; }
  });

  $('move-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const show = state.current;
    const from = whole($('move-from').value);
    const to = whole($('move-to').value);
    if (!show || !from || !to) { toast('Give both positions as numbers', 'error'); return; }
    if (await move(show, from, to)) { $('move-from').value = ''; $('move-to').value = ''; }
  });

  $('episode-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const show = state.current;
    if (!show) return;
    const raw = $('episode-input').value.trim();
    const episode = raw === '' ? null : whole(raw);
    if (raw !== '' && episode === null) { toast('The episode is a whole number', 'error'); return; }
    await edit('PATCH', '/admin/shows/' + show.id, { episode }, () => {
      $('episode-input').blur();
      toast(episode === null ? 'Episode number cleared' : 'This show is episode ' + episode, 'ok');
    });
  });
}
