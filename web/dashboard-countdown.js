// NtR live dashboard: the once-a-second tick of "airs in N s" (announce delay). Marks and
// history items waiting for their air time carry data-airs-at; their words are updated in
// place (no re-render, so focus stays where it is). When one reaches its air time the page
// is drawn again (the delivery words take over), and the toast is repainted every tick.

import { hooks } from './dashboard-state.js';
import { secondsLeft } from './dashboard-delivery.js';

const TICK_MS = 1000;

export function tick() {
  const now = Date.now();
  let due = false;
  for (const node of document.querySelectorAll('[data-airs-at]')) {
    const s = secondsLeft({ airs_at: node.dataset.airsAt }, now);
    if (s <= 0) { due = true; continue; }
    const text = 'airs in ' + s + ' s';
    if (node.textContent !== text) node.textContent = text;
  }
  if (due) hooks.render();
  hooks.tickToast();
}

export function startCountdown() {
  setInterval(tick, TICK_MS);
}
