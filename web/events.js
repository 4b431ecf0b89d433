// ikegate panel: live events from GET /api/v1/events (Server-Sent Events read through fetch,
// which can send the bearer token), a timeline of the last events, and a hook that refreshes
// the current view when something happened. Reconnects with backoff; `lagged` events (this tab
// read too slowly) are shown in the timeline.
'use strict';

const IkegateEvents = (() => {
  const MAX = 200;
  const events = [];
  let controller = null;
  let connected = false;
  let listeners = [];
  let retry = 1000;

  function timelineRow(e) {
    const li = document.createElement('li');
    li.className = 'ev ev-' + e.kind;
    li.dataset.kind = e.kind;
    li.dataset.tunnel = e.tunnel || '';
    const t = document.createElement('time');
    t.textContent = new Date(e.time_unix_ms).toLocaleTimeString();
    const k = document.createElement('span'); k.className = 'ev-kind'; k.textContent = e.kind;
    const n = document.createElement('span'); n.className = 'ev-tunnel mono'; n.textContent = e.tunnel || '';
    const m = document.createElement('span'); m.className = 'ev-msg'; m.textContent = e.message;
    li.append(t, k, n, m);
    if (e.diagnostic) {
      const d = document.createElement('div'); d.className = 'ev-diag error'; d.textContent = e.diagnostic;
      li.append(d);
    }
    return li;
  }

  // Draws the timeline into <ol id="timeline">, newest first, only `tunnel`'s when given.
  function render(tunnel) {
    const ol = document.getElementById('timeline');
    if (!ol) return;
    const rows = events.filter((e) => !tunnel || !e.tunnel || e.tunnel === tunnel).slice(-50).reverse();
    ol.replaceChildren(...rows.map(timelineRow));
    const st = document.getElementById('timeline-state');
    if (st) st.textContent = connected ? 'live' : 'reconnecting…';
    if (st) st.className = connected ? 'ok' : 'muted';
  }

  function push(e) {
    e.received_ms = Date.now();
    events.push(e);
    while (events.length > MAX) events.shift();
    for (const f of listeners) { try { f(e); } catch (err) { console.warn(err); } }
  }

  // Parses one SSE block (lines up to a blank line).
  function dispatch(block) {
    let kind = 'message'; const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) kind = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (!data.length) return;
    const text = data.join('\n');
    if (kind === 'ready') { connected = true; retry = 1000; push({ kind: 'connected', tunnel: '', message: 'live events connected', time_unix_ms: Date.now(), local: true }); return; }
    if (kind === 'lagged') {
      let n = '?'; try { n = JSON.parse(text).missed; } catch (_) { /* keep ? */ }
      push({ kind: 'lagged', tunnel: '', message: n + ' event(s) lost: this tab read too slowly', time_unix_ms: Date.now(), local: true });
      return;
    }
    try { push(JSON.parse(text)); } catch (_) { /* not JSON: ignore */ }
  }

  async function run(token) {
    controller = new AbortController();
    try {
      const r = await fetch('/api/v1/events', { headers: { Authorization: 'Bearer ' + token }, signal: controller.signal });
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true }).replace(/\r/g, '');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) { dispatch(buf.slice(0, i)); buf = buf.slice(i + 2); }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    connected = false;
    for (const f of listeners) { try { f({ kind: 'disconnected', local: true }); } catch (_) { /* ignore */ } }
    setTimeout(() => { if (controller && !controller.signal.aborted) run(token); }, retry);
    retry = Math.min(retry * 2, 30000);
  }

  return {
    // Starts following the stream (once); `onEvent` runs for every event.
    start(token, onEvent) {
      listeners = [onEvent];
      if (controller && !controller.signal.aborted) return;
      run(token);
    },
    stop() { if (controller) controller.abort(); controller = null; connected = false; },
    isConnected() { return connected; },
    render,
    all() { return events.slice(); },
  };
})();
