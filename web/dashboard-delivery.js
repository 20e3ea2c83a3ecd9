// NtR live dashboard: the words for what became of an announce, from its per-output
// deliveries (SPEC "Delivery"). The toast, the track's mark and the history all use
// outcome(), so they say the same thing. Nothing unconfirmed is ever called sent/delivered.
// Before its air time (announce delay) an announce "airs in N s"; one badge per output.

import { state, isCancelled } from './dashboard-state.js';
import { el } from './dashboard-util.js';

const FINAL = new Set(['delivered', 'failed', 'expired', 'cancelled']);

// "22:14:03", local time, 24 h.
export function clockSec(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], {
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  });
}

export function ircOff() { return !!(state.irc && state.irc.enabled === false); }

// Is IRC up for this channel right now (connected and joined)?
function ircReady(chan) {
  const irc = state.irc;
  if (!irc || !irc.connected) return false;
  const joined = (irc.channels || []).map((c) => c.toLowerCase());
  return joined.includes(chan.toLowerCase());
}

// Why the server refused our JOIN of this channel, if it did: "#c: banned (474 …)".
function refusalOf(chan) {
  const rs = (state.irc && state.irc.join_refusals) || [];
  const r = rs.find((x) => String(x.channel).toLowerCase() === chan.toLowerCase());
  return r ? r.message : null;
}

// --- before the air time ---------------------------------------------------------

// Still waiting for its air time: `airs_at` ahead on this browser's clock and nothing has
// left yet (every output queued). Past airs_at it is the delivery words again.
export function waiting(a, now) {
  if (!a || !a.airs_at) return false;
  const at = Date.parse(a.airs_at);
  if (isNaN(at) || at <= (now == null ? Date.now() : now)) return false;
  const ds = a.deliveries || [];
  return ds.length ? ds.every((d) => d.state === 'queued') : a.delivery === 'queued';
}

// Whole seconds until the air time, never negative.
export function secondsLeft(a, now) {
  const ms = Date.parse(a.airs_at) - (now == null ? Date.now() : now);
  return isNaN(ms) ? 0 : Math.max(0, Math.ceil(ms / 1000));
}

export function airsText(a) { return 'airs in ' + secondsLeft(a) + ' s'; }

export function cancelledText(a) { return '#' + a.position + ' cancelled — nothing was sent'; }

// --- outputs -------------------------------------------------------------------------

// A short name for any output: "irc:#chan" -> "#chan", "relay:sopel@net" -> "sopel@net",
// "discord" -> "Discord", "webhook:hooks.example.net:8443" -> "hooks.example.net:8443".
export function outputLabel(name) {
  const n = String(name || '');
  if (n === 'discord' || n.startsWith('discord:')) return 'Discord';
  const i = n.indexOf(':');
  return i > 0 && i < n.length - 1 ? n.slice(i + 1) : n;
}

const ICON = { delivered: '✓', failed: '✗', expired: '✗', cancelled: '⊘', queued: '…', sent: '…' };

// One badge per output (only when there is more than one): "#sewerchat ✓", "Discord …".
export function outputBadges(a) {
  const ds = (a && a.deliveries) || [];
  if (ds.length < 2) return null;
  return el('span', { class: 'outputs' }, ...ds.map((d) => el('span', {
    class: 'badge', 'data-state': d.state, 'data-output': d.output, title: detailLine(d),
    text: outputLabel(d.output) + ' ' + (ICON[d.state] || '?'),
  })));
}

// An output that is neither IRC nor a relay (Discord, a webhook): "Discord ✓".
function otherWords(d) {
  const name = outputLabel(d.output);
  switch (d.state) {
    case 'delivered': return name + ' ✓';
    case 'queued': case 'sent': return name + ' sending…';
    case 'failed': return name + ' failed: ' + (d.detail || 'no reason given');
    case 'expired': return name + ' not sent (too late)';
    case 'cancelled': return name + ' cancelled';
    default: return name + ' ' + (d.state || 'unknown');
  }
}

// One IRC channel's words. `named`: several channels, so say which one.
export function channelWords(d, named) {
  const chan = d.output.slice('irc:'.length);
  const pre = named ? chan + ' ' : '';
  switch (d.state) {
    case 'delivered': return 'in ' + chan + ' ' + clockSec(d.at);
    case 'queued': return pre + (ircReady(chan) ? 'sending…'
      : refusalOf(chan) ? 'sending… (' + refusalOf(chan) + ')' : 'sending… (waiting for IRC)');
    case 'sent': return pre + 'sending…';
    case 'failed': return pre + 'failed: ' + (d.detail || 'no reason given');
    case 'expired': return pre + 'not sent (too late)';
    case 'cancelled': return pre + 'cancelled';
    default: return pre + (d.state || 'unknown');
  }
}

// "2/2 relays", "1/2 relays, 1 unconfirmed", "0/1 relays, 1 failed".
export function relayWords(relays) {
  const n = (s) => relays.filter((d) => s.includes(d.state)).length;
  const extra = [];
  if (n(['queued', 'sent'])) extra.push(n(['queued', 'sent']) + ' unconfirmed');
  if (n(['failed', 'expired'])) extra.push(n(['failed', 'expired']) + ' failed');
  if (n(['cancelled'])) extra.push(n(['cancelled']) + ' cancelled');
  return [n(['delivered']) + '/' + relays.length + ' relays', ...extra].join(', ');
}

// The worst of several states (for colours): failed > expired > queued > sent > … > delivered.
const WORST = ['failed', 'expired', 'queued', 'sent', 'cancelled', 'delivered'];
function worst(states) {
  return WORST.find((s) => states.includes(s)) || states[0] || 'off';
}

function detailLine(d) {
  return d.output + ': ' + d.state + (d.detail ? ' (' + d.detail + ')' : '') +
    (d.at ? ' at ' + clockSec(d.at) : '');
}

// An announcement recorded before outputs existed: only `delivery` is known.
function legacy(a) {
  const d = a.delivery;
  if (d === 'failed' && ircOff()) return { text: 'recorded (IRC is off)', st: 'off', kind: 'warn' };
  const text = {
    delivered: 'in the channel ' + clockSec(a.delivered_at || a.announced_at),
    queued: 'sending…', sent: 'not confirmed', failed: 'failed',
    expired: 'not sent (too late)', cancelled: 'cancelled',
  }[d] || String(d || 'unknown');
  const kind = d === 'delivered' ? 'ok' : (d === 'failed' || d === 'expired') ? 'error' : 'warn';
  return { text, st: d || 'unknown', kind };
}

// What became of announcement `a`: {text, kind: ok|warn|error|info, state (for
// data-delivery), pending, final, retry, title, waiting (before its air time)}.
export function outcome(a) {
  const ds = (a && a.deliveries) || [];
  const title = ds.length ? ds.map(detailLine).join('\n') : 'delivery: ' + ((a && a.delivery) || '?');
  if (waiting(a)) {
    return { text: airsText(a), kind: 'info', state: 'queued', pending: true, final: false,
      retry: false, waiting: true, title: 'airs at ' + clockSec(a.airs_at) + '\n' + title };
  }
  if (isCancelled(a)) {
    return { text: 'cancelled', kind: 'info', state: 'cancelled', pending: false, final: true,
      retry: false, waiting: false, title: 'cancelled before it aired: nothing was sent' };
  }
  const irc = ds.filter((d) => d.output.startsWith('irc:'));
  const relays = ds.filter((d) => d.output.startsWith('relay:'));
  const others = ds.filter((d) => !irc.includes(d) && !relays.includes(d));
  let parts; let st; let kind;
  if (!ds.length) {
    const l = legacy(a || {});
    parts = [l.text]; st = l.st; kind = l.kind;
  } else {
    // With IRC, its channels are the outcome (others added); without, the relays are, or
    // else Discord and the webhooks.
    const main = irc.length ? irc : relays.length ? relays : others;
    const states = main.map((d) => d.state);
    st = worst(states);
    parts = irc.map((d) => channelWords(d, irc.length > 1));
    if (relays.length) parts.push(relayWords(relays));
    parts.push(...others.map(otherWords));
    if (states.some((s) => s === 'failed' || s === 'expired')) kind = 'error';
    else if (states.some((s) => s === 'queued')) kind = 'warn';
    else if (states.includes('delivered')) kind = 'ok';
    else if (states.some((s) => s === 'sent')) kind = irc.length ? 'warn' : 'info';
    else kind = 'info';
  }
  const mainOutputs = irc.length ? irc : relays.length ? relays : others;
  const pending = ds.length
    ? irc.some((d) => !FINAL.has(d.state)) ||
      (!irc.length && relays.some((d) => d.state === 'queued')) ||
      (!irc.length && !relays.length && others.some((d) => !FINAL.has(d.state)))
    : a && (a.delivery === 'queued');
  return {
    text: parts.join(' · '), kind, state: st, pending: !!pending, final: !pending,
    retry: mainOutputs.some((d) => d.state === 'failed') ||
      (!ds.length && a && a.delivery === 'failed' && !ircOff()),
    waiting: false, title,
  };
}
