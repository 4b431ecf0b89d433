// ikegate admin panel: plain JS, no build step. Asks for the token once (kept in
// sessionStorage), follows the live event stream (web/events.js) and refreshes the view when an
// event arrives (polling every 2 s only while the stream is down; counters every 10 s, the
// tunnel page's graph every 2 s), shows the transcript ladder (web/transcript.js), and drives
// proposals, proxy-ids and controls.
'use strict';

const KEY = 'ikegate-token';
const $ = (id) => document.getElementById(id);
let timer = null;
let editorsLoadedFor = null;
let currentTick = null;
let lastRefresh = 0;
let pendingRefresh = null;

function token() { return sessionStorage.getItem(KEY); }

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + token() } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = body;
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (r.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin('The token was not accepted: ' + (data && data.detail || r.status));
    throw new Error('unauthorized');
  }
  if (!r.ok) {
    const msg = data && data.detail ? data.detail : (text || ('HTTP ' + r.status));
    const err = new Error(msg);
    err.fields = data && data.fields; // validation errors by key (the form shows them in place)
    throw err;
  }
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function stateBadge(s) { return el('span', s, 'state ' + s); }

// The key-exchange chain of an IKEv2 SA, flagged when no ML-KEM protects it.
function pqText(p) {
  if (!p.key_exchanges) return '';
  return ' [' + p.key_exchanges + (p.post_quantum ? ', post-quantum' : ', NOT post-quantum') + ']';
}

function dur(s) {
  if (s === null || s === undefined) return '–';
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.floor(s / 60) + ' min';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
  return (n / 1073741824).toFixed(2) + ' GiB';
}

function dpdText(d) {
  if (!d.enabled) return d.peer_supports_dpd ? 'off (peer supports it)' : 'off';
  return d.state + (d.interval_secs ? ', every ' + dur(d.interval_secs) : '') +
    (d.failures ? ', ' + d.failures + ' failure(s)' : '');
}

function showLogin(msg) {
  stop();
  IkegateEvents.stop();
  $('events').classList.add('hidden');
  $('login').classList.remove('hidden');
  $('list').classList.add('hidden');
  $('detail').classList.add('hidden');
  $('logout').classList.add('hidden');
  $('login-error').textContent = msg || '';
  $('token').focus();
}

function stop() { if (timer) { clearInterval(timer); timer = null; } currentTick = null; }

function route() {
  stop();
  if (!token()) { showLogin(); return; }
  $('login').classList.add('hidden');
  $('logout').classList.remove('hidden');
  const m = location.hash.match(/^#\/tunnel\/(.+)$/);
  const tick = m ? () => detail(decodeURIComponent(m[1])) : list;
  if (!m) editorsLoadedFor = null;
  currentTick = () => { lastRefresh = Date.now(); return tick(); };
  currentTick();
  $('events').classList.remove('hidden');
  IkegateEvents.start(token(), onEvent);
  IkegateEvents.render(currentName());
  // With the event stream up, the page needs a slow poll only for the counters; the tunnel page's
  // throughput graph still takes a sample every 2 s.
  timer = setInterval(() => {
    if (!IkegateEvents.isConnected() || Date.now() - lastRefresh >= 10000) currentTick();
    else if (m) graphTick(decodeURIComponent(m[1]));
  }, 2000);
}

// One throughput sample for the tunnel page's graph (one GET of the tunnel, nothing else redrawn).
async function graphTick(name) {
  let t;
  try { t = await api('GET', '/api/v1/tunnels/' + encodeURIComponent(name)); } catch (e) { return; }
  if (currentName() === name) graphSample(t);
}

// Feeds tunnel `t`'s counters to its throughput graph and redraws it.
function graphSample(t) {
  window.ThroughputGraph.sample(t.name, t.counters);
  window.ThroughputGraph.draw($('d-graph'), t.name, $('d-graph-legend'));
}

// A live event: redraw the timeline, and refresh the view at once (coalescing bursts).
function onEvent(e) {
  IkegateEvents.render(currentName());
  if (e.local || !currentTick || pendingRefresh) return;
  pendingRefresh = setTimeout(() => { pendingRefresh = null; if (currentTick) currentTick(); }, 30);
}

async function list() {
  $('detail').classList.add('hidden');
  $('list').classList.remove('hidden');
  let ts;
  try { ts = await api('GET', '/api/v1/tunnels'); } catch (e) { $('status-line').textContent = e.message; return; }
  $('status-line').textContent = 'updated ' + new Date().toLocaleTimeString();
  const tb = document.querySelector('#tunnels tbody');
  tb.replaceChildren();
  for (const t of ts) {
    window.ThroughputGraph.sample(t.name, t.counters);
    const tr = el('tr');
    tr.dataset.tunnel = t.name;
    tr.addEventListener('click', () => { location.hash = '#/tunnel/' + encodeURIComponent(t.name); });
    const name = el('td'); name.append(el('a', t.name)); name.firstChild.href = '#/tunnel/' + encodeURIComponent(t.name);
    const st = el('td'); st.append(stateBadge(t.state)); st.className = 'tunnel-state';
    tr.append(name, st, el('td', t.local + ' ⇄ ' + t.remote, 'mono'));
    const p1 = t.phase1.filter((p) => p.age_secs !== null);
    tr.append(el('td', p1.length ? p1[p1.length - 1].proposal + ' (' + dur(p1[p1.length - 1].age_secs) + ')' + pqText(p1[p1.length - 1]) : (t.keying === 'manual' ? 'manual keys' : '–')));
    tr.append(el('td', t.phase2.map((s) => s.inbound_spi + ' / ' + s.outbound_spi).join(', ') || '–', 'mono spis'));
    tr.append(el('td', dpdText(t.dpd)));
    tr.append(el('td', t.counters.tx.packets + ' / ' + t.counters.rx.packets + ' pkts'));
    tr.append(el('td', t.last_error || '', 'error'));
    tb.append(tr);
  }
  await remoteAccess();
}

// The remote-access interfaces under the tunnel list (web/remote-access.js).
async function remoteAccess() {
  let ra;
  try { ra = await api('GET', '/api/v1/remote-access'); } catch (e) { return; }
  IkegateRemoteAccess.render($('remote-access'), ra, async (name, id, user) => {
    try {
      const r = await api('DELETE', '/api/v1/remote-access/' + encodeURIComponent(name) + '/clients/' + id);
      $('ra-result').textContent = user + ': ' + r.result;
    } catch (e) { $('ra-result').textContent = user + ': ' + e.message; }
    await remoteAccess();
  });
}

function dl(id, pairs) {
  const d = $(id);
  d.replaceChildren();
  for (const [k, v] of pairs) { d.append(el('dt', k), el('dd', v)); }
}

// The peer's identity and, with certificate authentication, its certificate: subject, issuer,
// validity and SHA-256 fingerprint, one per line.
function peerCell(p) {
  const td = el('td');
  td.append(el('div', p.peer_identity || '–'));
  const c = p.peer_certificate;
  if (c) {
    for (const line of ['subject: ' + c.subject, 'issuer: ' + c.issuer, 'valid: ' + c.not_before + ' – ' + c.not_after]) {
      td.append(el('div', line, 'muted'));
    }
    td.append(el('div', 'SHA-256 ' + c.fingerprint_sha256, 'mono muted'));
  }
  return td;
}

async function detail(name) {
  $('list').classList.add('hidden');
  $('detail').classList.remove('hidden');
  let t;
  try { t = await api('GET', '/api/v1/tunnels/' + encodeURIComponent(name)); } catch (e) {
    $('status-line').textContent = e.message; return;
  }
  $('status-line').textContent = 'updated ' + new Date().toLocaleTimeString();
  $('d-name').textContent = t.name;
  const st = $('d-state'); st.textContent = t.state; st.className = 'state ' + t.state;
  const nat = t.nat ? ((t.nat.detected ? 'NAT detected' : 'no NAT') + ', NAT-T ' + t.nat.nat_t + (t.nat.floated ? ', UDP 4500' : '') + ', peer seen at ' + t.nat.mapped) : '–';
  dl('d-info', [['keying', t.ike_version ? 'IKEv' + t.ike_version : t.keying], ['outer', t.local + ' ⇄ ' + t.remote], ['nat-traversal', t.nat_traversal], ['NAT', nat], ['MTU', t.mtu]]);
  const c = t.counters;
  graphSample(t);
  const drops = Object.entries(c.rx_drops).filter(([, v]) => v > 0).map(([k, v]) => k + ' ' + v).join(', ') || 'none';
  const ctr = [['out', c.tx.packets + ' pkts, ' + bytes(c.tx.bytes)], ['in', c.rx.packets + ' pkts, ' + bytes(c.rx.bytes)],
    ['inbound drops', drops], ['out: no SA / policy', c.tx_no_sa + ' / ' + c.tx_policy], ['I/O errors', c.io_errors]];
  if (t.ike) ctr.push(['IKE in / out / retx', t.ike.received + ' / ' + t.ike.sent + ' / ' + t.ike.retransmits],
    ['rekeys', t.ike.rekeys], ['failed negotiations', t.ike.failures]);
  dl('d-counters', ctr);
  const d = t.dpd;
  dl('d-dpd', [['state', d.state || '–'], ['enabled', d.enabled ? 'yes' : 'no'], ['interval', dur(d.interval_secs)], ['retries', d.retries ?? '–'],
    ['peer supports DPD', d.peer_supports_dpd ? 'yes' : 'no'],
    ['peer alive', d.peer_alive === null ? '–' : (d.peer_alive ? 'yes' : 'no')], ['probes outstanding', d.probes_outstanding ?? '–'],
    ['last ACK', d.last_ack_secs_ago === null ? '–' : dur(d.last_ack_secs_ago) + ' ago'], ['last sign of life', d.last_seen_secs_ago === null ? '–' : dur(d.last_seen_secs_ago) + ' ago'],
    ['sequence', d.sequence ?? '–'], ['peer declared dead', d.failures + ' time(s)']]);
  const b1 = document.querySelector('#d-phase1 tbody'); b1.replaceChildren();
  for (const p of t.phase1) {
    const tr = el('tr');
    tr.append(el('td', p.role), el('td', p.state), el('td', p.initiator_cookie + ':' + p.responder_cookie, 'mono'),
      el('td', (p.proposal || '–') + pqText(p)), el('td', p.peer, 'mono'), peerCell(p), el('td', dur(p.age_secs)), el('td', dur(p.expires_in_secs)));
    b1.append(tr);
  }
  // Every traffic selector of the pair, one per line (older servers send only proxy_ids).
  const selectorsCell = (s) => {
    const td = el('td', '', 'mono selectors');
    const sel = s.selectors && s.selectors.length ? s.selectors : [s.proxy_ids];
    sel.forEach((p, i) => { if (i) td.append(el('br')); td.append(document.createTextNode(p.local + ' ⇄ ' + p.remote)); });
    return td;
  };
  const b2 = document.querySelector('#d-phase2 tbody'); b2.replaceChildren();
  for (const s of t.phase2) {
    const tr = el('tr');
    tr.append(el('td', s.inbound_spi, 'mono spi-in'), el('td', s.outbound_spi + (s.current ? ' (current)' : ''), 'mono spi-out'),
      el('td', s.proposal + (s.mode === 'transport' ? ' (transport mode)' : '')), selectorsCell(s),
      el('td', s.inbound.packets + ' / ' + bytes(s.inbound.bytes)), el('td', s.current ? s.outbound.packets + ' / ' + bytes(s.outbound.bytes) : '– (not in use)'),
      el('td', dur(s.age_secs)), el('td', dur(s.expires_in_secs)));
    b2.append(tr);
  }
  $('d-error').textContent = t.last_error || 'none';
  $('d-error').className = t.last_error ? 'error' : 'muted';
  const ike = t.keying === 'ike';
  for (const id of ['btn-initiate', 'btn-rekey', 'btn-reset', 'save-proposals', 'save-proxy-ids']) $(id).disabled = !ike;
  if (ike) await Promise.all([loadEditors(name, false), loadTranscript(name)]);
}

async function loadTranscript(name) {
  try {
    IkegateTranscript.render($('transcript'), await api('GET', '/api/v1/tunnels/' + encodeURIComponent(name) + '/transcript'));
  } catch (e) { $('transcript').textContent = e.message; }
}

async function loadEditors(name, force) {
  const [p, x] = await Promise.all([
    api('GET', '/api/v1/tunnels/' + encodeURIComponent(name) + '/proposals'),
    api('GET', '/api/v1/tunnels/' + encodeURIComponent(name) + '/proxy-ids')]);
  $('neg-proposals').textContent = [p.negotiated_phase1, p.negotiated_phase2].filter(Boolean).join('; ') || '–';
  $('neg-proxy').textContent = [...new Set(x.negotiated.map((n) => n.local + ' ⇄ ' + n.remote))].join(', ') || '–';
  if (force || editorsLoadedFor !== name) {
    window.ProposalForm.render($('proposal-form'), p.configured, p.choices);
    $('proxy-ids').value = JSON.stringify(x.configured, null, 2);
    editorsLoadedFor = name;
  }
}

function currentName() {
  const m = location.hash.match(/^#\/tunnel\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

async function action(verb) {
  const name = currentName();
  const out = $('action-result');
  out.textContent = verb + '…'; out.className = 'muted';
  try {
    const r = await api('POST', '/api/v1/tunnels/' + encodeURIComponent(name) + '/' + verb);
    out.textContent = r.result; out.className = 'ok';
  } catch (e) { out.textContent = e.message; out.className = 'error'; }
}

async function save(kind, body, nowBox, result) {
  const name = currentName();
  const out = $(result);
  const q = $(nowBox).checked ? '?rekey=now' : '';
  const form = kind === 'proposals' ? window.ProposalForm : null;
  if (form) form.clearErrors();
  try {
    await api('PUT', '/api/v1/tunnels/' + encodeURIComponent(name) + '/' + kind + q, body());
    out.textContent = 'saved'; out.className = 'ok';
    await loadEditors(name, true);
  } catch (e) {
    if (form && e.fields && e.fields.length) {
      form.showErrors(e.fields);
      out.textContent = 'not saved: see the fields marked in red'; out.className = 'error';
    } else { out.textContent = e.message; out.className = 'error'; }
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('host').textContent = location.host;
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    $('token').value = '';
    try { await api('GET', '/api/v1/tunnels'); route(); } catch (e) { if (e.message !== 'unauthorized') showLogin(e.message); }
  });
  $('logout').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin(); });
  $('btn-initiate').addEventListener('click', () => action('initiate'));
  $('btn-rekey').addEventListener('click', () => action('rekey'));
  $('btn-reset').addEventListener('click', () => { if (confirm('Delete every SA of this tunnel and start over?')) action('reset'); });
  $('save-proposals').addEventListener('click', () => save('proposals', () => JSON.stringify(window.ProposalForm.value()), 'proposals-now', 'proposals-result'));
  $('proposal-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('save-proxy-ids').addEventListener('click', () => save('proxy-ids', () => $('proxy-ids').value, 'proxy-now', 'proxy-result'));
  window.addEventListener('hashchange', route);
  route();
});
