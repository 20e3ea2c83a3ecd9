/* NtR public playlist: follows the show live over /ws/public. Read-only, no login. */
(() => {
  "use strict";

  const body = document.body;
  const mode = body.dataset.mode === "current" ? "current" : "show";
  const $ = (id) => document.getElementById(id);
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

  const state = {
    showId: Number(body.dataset.showId) || null,
    show: null,              // the show JSON (with tracks) once fetched
    first: new Map(),        // track id -> first announced_at (ISO)
    playing: null,           // track id playing now
    known: new Set(),        // track ids already on screen (new ones get a highlight)
    fresh: new Map(),        // track id -> until when it is highlighted as new
  };
  const FRESH_MS = 12000;
  document.querySelectorAll("#tracks li[data-track-id]").forEach((li) => {
    state.known.add(Number(li.dataset.trackId));
  });

  // --- formatting -------------------------------------------------------------------

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  // The 500×500 variant of a SoundCloud artwork URL, else null: the rule of
  // ntrbot/public.py artwork_500 (the page's CSP allows only these hosts for images).
  const ARTWORK = /^https:\/\/(i[1-4]\.sndcdn\.com)\/([A-Za-z0-9._~%\/-]+?)(-(?:large|crop|small|badge|tiny|mini|original|t\d+x\d+))?\.(jpg|jpeg|png|gif|webp)(\?[A-Za-z0-9=&._-]*)?$/;
  function artwork(url) {
    const m = typeof url === "string" ? ARTWORK.exec(url) : null;
    if (!m) return null;
    return `https://${m[1]}/${m[2]}${m[3] ? "-t500x500" : ""}.${m[4]}${m[5] || ""}`;
  }

  function duration(ms) {
    if (typeof ms !== "number" || ms <= 0) return "";
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function offset(iso) {
    if (!state.show) return "";
    const secs = Math.round((Date.parse(iso) - Date.parse(state.show.week_start)) / 1000);
    if (!Number.isFinite(secs)) return "";
    const a = Math.abs(secs);
    const h = Math.floor(a / 3600);
    const m = String(Math.floor((a % 3600) / 60)).padStart(2, "0");
    return `${secs < 0 ? "-" : "+"}${h}:${m}`;
  }

  // The date and time as written in the ISO string: the show's own local time.
  function showDate(iso, withTime, withYear = true) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) return "";
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const day = DAYS[new Date(Date.UTC(y, mo - 1, d)).getUTCDay()];
    const date = `${day} ${d} ${MONTHS[mo - 1]}${withYear ? ` ${y}` : ""}`;
    return withTime ? `${date}, ${m[4]}:${m[5]}` : date;
  }

  function showTitle(show) {
    if (show.episode !== null && show.episode !== undefined) return `NtR Episode ${show.episode}`;
    return `NtR · week of ${showDate(show.week_start, false).replace(/^\w+ /, "")}`;
  }

  // --- rendering -----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function titleNode(track, className) {
    const url = safeUrl(track.permalink_url);
    const node = el(url ? "a" : "span", className, track.title);
    if (url) {
      node.href = url;
      node.rel = "noopener noreferrer";
      node.target = "_blank";
    }
    return node;
  }

  function row(track) {
    const li = el("li", "track");
    li.id = `track-${track.position}`;
    li.dataset.position = String(track.position);
    li.dataset.trackId = String(track.id);
    const played = state.first.get(track.id);
    if (played) li.classList.add("played");
    if (track.id === state.playing) li.classList.add("playing");
    if (!state.known.has(track.id)) state.fresh.set(track.id, Date.now() + FRESH_MS);
    const freshLeft = (state.fresh.get(track.id) || 0) - Date.now();
    if (freshLeft > 0) {
      li.classList.add("fresh");
      setTimeout(() => li.classList.remove("fresh"), freshLeft);
    } else {
      state.fresh.delete(track.id);
    }
    const info = el("span", "info");
    info.append(titleNode(track, "title"), el("span", "artist", track.artist));
    const meta = [duration(track.duration_ms)];
    if (played) meta.push(`played ${offset(played)}`);
    li.append(el("span", "pos", String(track.position)), info,
      el("span", "meta", meta.filter(Boolean).join(" · ")));
    return li;
  }

  function renderNow() {
    const card = $("now-playing");
    const track = state.show && state.show.tracks.find((t) => t.id === state.playing);
    if (!track) {
      card.hidden = true;
      return;
    }
    $("now-pos").textContent = `#${track.position}`;
    const link = $("now-title");
    link.textContent = track.title;
    const url = safeUrl(track.permalink_url);
    if (url) link.href = url; else link.removeAttribute("href");
    $("now-artist").textContent = track.artist;
    showArt(artwork(track.artwork_url));
    card.hidden = false;
  }

  // The artwork box keeps its size: an image, or the neutral placeholder when there is none
  // (or it does not load).
  function showArt(src) {
    const img = $("now-art-img");
    if (src) {
      if (img.getAttribute("src") !== src) img.src = src;
    } else {
      img.removeAttribute("src");
    }
    img.hidden = !src;
    $("now-art").dataset.art = src ? "image" : "placeholder";
  }
  // (A load that failed before this script ran leaves a transparent box: the placeholder.)
  $("now-art-img").addEventListener("error", () => showArt(null));

  function renderHeading(show) {
    const title = showTitle(show);
    $("show-title").textContent = title;
    document.title = `${title} · playlist`;
    if (Number(body.dataset.showId) !== show.id) {  // a new week began under our eyes
      body.dataset.showId = String(show.id);
      $("show-dates").textContent =
        `${showDate(show.week_start, true)} – ${showDate(show.week_end, true, false)}`;
      $("show-kicker").textContent = "This week's show";
      $("downloads").querySelectorAll("a").forEach((a) => {
        a.href = a.href.replace(/\/shows\/\d+\//, `/shows/${show.id}/`);
      });
    }
  }

  function render() {
    const show = state.show;
    if (!show) return;
    renderHeading(show);
    const list = $("tracks");
    list.replaceChildren(...show.tracks.map(row));
    $("tracks-empty").hidden = show.tracks.length > 0;
    show.tracks.forEach((t) => state.known.add(t.id));
    renderNow();
  }

  function flash(trackId) {
    const li = document.querySelector(`#tracks li[data-track-id="${trackId}"]`);
    if (!li) return;
    li.classList.remove("flash");
    void li.offsetWidth;  // restart the animation
    li.classList.add("flash");
  }

  // --- data ------------------------------------------------------------------------------

  async function getJSON(url) {
    const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!resp.ok) throw new Error(`${url}: ${resp.status}`);
    return resp.json();
  }

  let pushes = 0;  // counts pushes applied directly, so a slower refresh never undoes one
  async function refresh() {
    const seen = pushes;
    const show = await getJSON(mode === "current" ? "/playlist" : `/shows/${state.showId}`);
    const history = await getJSON(`/shows/${show.id}/announcements`);
    if (seen !== pushes) {  // an announce arrived meanwhile: this answer may predate it
      scheduleRefresh(0);
      return;
    }
    const first = new Map();
    let playing = null;
    for (const a of history.announcements || []) {
      if (!first.has(a.track_id)) first.set(a.track_id, a.announced_at);
      playing = a.track_id;
    }
    state.show = show;
    state.showId = show.id;
    state.first = first;
    state.playing = playing;
    render();
    armRollover();
  }

  let refreshTimer = null;
  let refreshing = false;
  function scheduleRefresh(delay = 150) {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      if (refreshing) { scheduleRefresh(500); return; }
      refreshing = true;
      try {
        await refresh();
      } catch (err) {
        scheduleRefresh(5000);
      } finally {
        refreshing = false;
      }
    }, delay);
  }

  // On "/" the page moves on to the next show when this week ends. A device whose clock
  // is off sees the week "over" too early: it then checks again less and less often.
  let rolloverTimer = null;
  let rolloverMisses = 0;
  let rolloverShow = null;
  let rolloverFired = false;
  function armRollover() {
    if (mode !== "current" || !state.show) return;
    clearTimeout(rolloverTimer);
    if (rolloverShow !== state.show.id) rolloverMisses = 0;
    else if (rolloverFired) rolloverMisses += 1;
    rolloverShow = state.show.id;
    rolloverFired = false;
    const wait = Date.parse(state.show.week_end) - Date.now() + 2000;
    if (!Number.isFinite(wait)) return;
    const early = 30000 * 2 ** Math.min(rolloverMisses, 7);
    rolloverTimer = setTimeout(() => { rolloverFired = true; scheduleRefresh(0); },
      Math.min(Math.max(wait, early), 6 * 3600e3));
  }

  function onAnnounce(msg) {
    if (msg.show_id !== state.showId) {
      // on "/", an announce in a newer show means the week moved on before our timer did
      if (mode === "current" && msg.show_id > state.showId) scheduleRefresh(0);
      return;
    }
    const track = msg.track;
    if (!state.show || !track || !state.show.tracks.some((t) => t.id === track.id)) {
      scheduleRefresh(0);
      return;
    }
    pushes += 1;
    if (!state.first.has(track.id)) state.first.set(track.id, msg.announced_at);
    state.playing = track.id;
    render();
    flash(track.id);
  }

  function onMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "hello":
      case "resync":
        scheduleRefresh(0);  // catch up on whatever happened while we were away
        break;
      case "announce":
        onAnnounce(msg);
        break;
      case "retracted":
      case "playlist":
        if (msg.show_id === state.showId || (mode === "current" && msg.type === "playlist")) {
          scheduleRefresh();
        }
        break;
      default:
        break;  // "ping" and anything new
    }
  }

  // --- the socket ---------------------------------------------------------------------

  const status = $("socket-status");
  function setStatus(kind, text) {
    status.dataset.state = kind;
    status.textContent = text;
  }

  let ws = null;
  let attempt = 0;
  let lastHeard = 0;
  let retryTimer = null;

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (ws && ws.readyState <= WebSocket.OPEN) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let sock;
    try {
      sock = new WebSocket(`${scheme}//${location.host}/ws/public`);
    } catch (err) {
      retry();
      return;
    }
    ws = sock;
    sock.addEventListener("open", () => {
      attempt = 0;
      lastHeard = Date.now();
      setStatus("ok", "live");
    });
    sock.addEventListener("message", (ev) => {
      lastHeard = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (err) { return; }
      onMessage(msg);
    });
    sock.addEventListener("close", () => {
      if (ws !== sock) return;
      ws = null;
      retry();
    });
  }

  function retry() {
    if (retryTimer !== null) return;
    const delay = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
    attempt += 1;
    setStatus("warn", "reconnecting…");
    retryTimer = setTimeout(connect, delay);
  }

  // The server speaks at least every 25 s; silence for longer means a dead connection.
  setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - lastHeard > 70000) ws.close();
  }, 10000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !ws) connect();
  });

  armRollover();
  connect();
})();
