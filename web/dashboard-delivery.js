// NtR live dashboard: the words for what became of an announce, from its per-output
// deliveries (SPEC "Delivery"). The toast, the track's mark and the history all use
// outcome(), so they say the same thing. Nothing unconfirmed is ever called sent/delivered.

import { state } from './dashboard-state.js';

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

// One IRC channel's words. `named`: several channels, so say which one.
export function channelWords(d, named) {
  const chan = d.output.slice('irc:'.length);
  const pre = named ? chan + ' ' : '';
  switch (d.state) {
    case 'delivered': return 'in ' + chan + ' ' + clockSec(d.at);
    case 'queued': return pre + (ircReady(chan) ? 'sending…' : 'sending… (waiting for IRC)');
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

// What became of announcement `a`:
// {text, kind: ok|warn|error|info, state (for data-delivery), pending, final, retry, title}.
export function outcome(a) {
  const ds = (a && a.deliveries) || [];
  const irc = ds.filter((d) => d.output.startsWith('irc:'));
  const relays = ds.filter((d) => d.output.startsWith('relay:'));
  let parts; let st; let kind;
  if (!ds.length) {
    const l = legacy(a || {});
    parts = [l.text]; st = l.st; kind = l.kind;
  } else {
    // With IRC, its channels are the outcome (relays added); without, the relays are.
    const main = irc.length ? irc : relays;
    const states = main.map((d) => d.state);
    st = worst(states);
    parts = irc.map((d) => channelWords(d, irc.length > 1));
    if (relays.length) parts.push(relayWords(relays));
    if (states.some((s) => s === 'failed' || s === 'expired')) kind = 'error';
    else if (states.some((s) => s === 'queued')) kind = 'warn';
    else if (states.includes('delivered')) kind = 'ok';
    else if (states.some((s) => s === 'sent')) kind = irc.length ? 'warn' : 'info';
    else kind = 'info';
  }
  const mainOutputs = irc.length ? irc : relays;
  const pending = ds.length
    ? irc.some((d) => !FINAL.has(d.state)) || (!irc.length && relays.some((d) => d.state === 'queued'))
    : a && (a.delivery === 'queued');
  return {
    text: parts.join(' · '), kind, state: st, pending: !!pending, final: !pending,
    retry: mainOutputs.some((d) => d.state === 'failed') ||
      (!ds.length && a && a.delivery === 'failed' && !ircOff()),
    title: ds.length ? ds.map(detailLine).join('\n') : 'delivery: ' + ((a && a.delivery) || '?'),
  };
}
