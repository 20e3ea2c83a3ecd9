// NtR live dashboard: tonight's announce delay (GET/PUT /admin/delay, kept server-side).
// The status bar's "delay 15 s" / "no delay" button opens a small panel: presets (none,
// 10, 15, 20, 30 s) and any number of seconds. Other tabs follow the socket's "delay" event.

import { $, toast, sendJSON, errorText } from './dashboard-util.js';

let current = null;  // {seconds, default} as the server said last

function words(seconds) {
  return seconds > 0 ? 'delay ' + seconds + ' s' : 'no delay';
}

// Show what the server says (hello, a "delay" event or the PUT answer).
export function renderDelay(d) {
  if (!d || typeof d.seconds !== 'number') return;
  current = d;
  const s = Math.round(d.seconds * 10) / 10;
  const b = $('delay-toggle');
  b.textContent = words(s);
  b.dataset.state = s > 0 ? 'ok' : 'off';
  b.setAttribute('aria-label', 'Announce delay, ' + words(s) + ' (change)');
  b.title = (s > 0 ? 'Announces wait ' + s + ' s before they air (Cancel stops them)'
    : 'Announces go out at once') + '; the setting\'s default is ' + (d.default || 0) + ' s';
  for (const p of document.querySelectorAll('.delay-preset')) {
    p.setAttribute('aria-pressed', String(Number(p.dataset.seconds) === s));
  }
}

function open(yes) {
  $('delay-panel').hidden = !yes;
  $('delay-toggle').setAttribute('aria-expanded', String(yes));
  if (yes) {
    $('delay-input').value = current ? String(current.seconds) : '';
    const on = document.querySelector('.delay-preset[aria-pressed="true"]') ||
      document.querySelector('.delay-preset');
    on.focus();
  }
}

async function setDelay(seconds) {
  try {
    const { status, data } = await sendJSON('PUT', '/admin/delay', { seconds });
    if (status === 200) {
      renderDelay(data);
      open(false);
      $('delay-toggle').focus();
      toast(data.seconds > 0 ? 'Delay now ' + data.seconds + ' s: announces wait that long ' +
        'and can be cancelled until they air' : 'No delay: announces go out at once', 'ok');
    } else if (status !== 401) {
      toast('Could not set the delay: ' + errorText(status, data), 'error');
    }
  } catch (e) {
    toast('Could not set the delay: ' + e.message, 'error');
  }
}

export function initDelay() {
  $('delay-toggle').addEventListener('click', () => open($('delay-panel').hidden));
  for (const p of document.querySelectorAll('.delay-preset')) {
    p.addEventListener('click', () => setDelay(Number(p.dataset.seconds)));
  }
  $('delay-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const raw = $('delay-input').value.trim();
    const n = Number(raw);
    if (raw === '' || !Number.isFinite(n)) {
      toast('The delay is a number of seconds (0 to 600)', 'error');
      return;
    }
    setDelay(n);
  });
  $('delay-panel').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.stopPropagation(); open(false); $('delay-toggle').focus(); }
  });
}
