// Per-tunnel throughput graph: in/out bits per second over the last five minutes, computed from
// the byte counters the API serves (each poll of the panel feeds a sample), drawn on a canvas.
// No build step, no library. Exposes window.ThroughputGraph = { sample, draw }.
'use strict';

(function () {
  const WINDOW_MS = 5 * 60 * 1000;
  const samples = new Map(); // tunnel name -> [{ t, rx, tx }]

  // Records the byte counters of tunnel `name` at time `t` (ms). A counter that went down (a
  // restarted gateway) starts the history again.
  function sample(name, counters, t) {
    const now = t || Date.now();
    let s = samples.get(name);
    if (!s) { s = []; samples.set(name, s); }
    const last = s[s.length - 1];
    const rx = counters.rx.bytes, tx = counters.tx.bytes;
    if (last && (rx < last.rx || tx < last.tx)) s.length = 0;
    if (last && now - last.t < 500) return;
    s.push({ t: now, rx, tx });
    while (s.length > 2 && now - s[0].t > WINDOW_MS + 5000) s.shift();
  }

  // Rates between consecutive samples, bits per second: [{ t, inBps, outBps }].
  function rates(name) {
    const s = samples.get(name) || [];
    const out = [];
    for (let i = 1; i < s.length; i++) {
      const dt = (s[i].t - s[i - 1].t) / 1000;
      if (dt <= 0) continue;
      out.push({ t: s[i].t, inBps: (s[i].rx - s[i - 1].rx) * 8 / dt, outBps: (s[i].tx - s[i - 1].tx) * 8 / dt });
    }
    return out;
  }

  function bps(v) {
    if (v < 1000) return v.toFixed(0) + ' bit/s';
    if (v < 1e6) return (v / 1e3).toFixed(1) + ' kbit/s';
    if (v < 1e9) return (v / 1e6).toFixed(1) + ' Mbit/s';
    return (v / 1e9).toFixed(2) + ' Gbit/s';
  }

  // A scale maximum: 1, 2 or 5 times a power of ten, at least 1 kbit/s.
  function niceMax(v) {
    let m = 1000;
    while (m < v) {
      for (const f of [2, 2.5, 2]) { m *= f; if (m >= v) break; }
    }
    return m;
  }

  const COLORS = { in: '#2f5bd3', out: '#18794e', grid: '#dde1ea', text: '#6b7385' };

  // Draws the graph of `name` on `canvas`; `legend` (an element) gets the current rates.
  function draw(canvas, name, legend) {
    const ctx = canvas.getContext('2d');
    const W = canvas.width, H = canvas.height;
    const left = 90, right = 10, top = 10, bottom = 24;
    const w = W - left - right, h = H - top - bottom;
    ctx.clearRect(0, 0, W, H);
    const r = rates(name);
    const now = Date.now();
    const max = niceMax(Math.max(0, ...r.map((p) => Math.max(p.inBps, p.outBps))));
    ctx.font = '12px system-ui, sans-serif';
    ctx.strokeStyle = COLORS.grid; ctx.fillStyle = COLORS.text; ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + h - (h * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
      ctx.fillText(bps((max * i) / 4), 4, y + 4);
    }
    for (let m = 0; m <= 5; m++) {
      const x = left + w - (w * m * 60000) / WINDOW_MS;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
      ctx.fillText(m === 0 ? 'now' : '-' + m + ' min', x - 14, H - 6);
    }
    const line = (key, color, dash) => {
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash); ctx.beginPath();
      let started = false;
      for (const p of r) {
        const age = now - p.t;
        if (age > WINDOW_MS) continue;
        const x = left + w - (w * age) / WINDOW_MS;
        const y = top + h - (h * p[key]) / max;
        if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
      }
      ctx.stroke();
    };
    // Out solid, in dashed on top: equal rates (an echo) still show both.
    line('outBps', COLORS.out, []);
    line('inBps', COLORS.in, [6, 4]);
    ctx.setLineDash([]);
    canvas.dataset.points = String(r.length);
    if (legend) {
      const last = r[r.length - 1];
      legend.textContent = last
        ? 'in ' + bps(last.inBps) + ' · out ' + bps(last.outBps) + ' (peak ' + bps(Math.max(...r.map((p) => Math.max(p.inBps, p.outBps)))) + ')'
        : 'collecting samples…';
    }
  }

  window.ThroughputGraph = { sample, draw, rates };
})();
