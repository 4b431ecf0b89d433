// ikegate panel: remote-access interfaces (GET /api/v1/remote-access) under the tunnel list:
// pool usage, login failures by reason, and one row per connected client (user, identity,
// virtual addresses, outer address, time connected, bytes, IKE version) with a Disconnect
// button (DELETE /api/v1/remote-access/{name}/clients/{id}).
'use strict';

const IkegateRemoteAccess = (() => {
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function dur(s) {
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }

  function clientRow(ra, c, disconnect) {
    const tr = el('tr');
    tr.dataset.client = c.user;
    tr.append(el('td', c.user), el('td', c.identity, 'mono'), el('td', c.virtual_ips.join(', '), 'mono'),
      el('td', c.outer, 'mono'), el('td', 'IKEv' + c.ike_version), el('td', dur(c.connected_secs)),
      el('td', bytes(c.bytes_in) + ' / ' + bytes(c.bytes_out)));
    const td = el('td');
    const b = el('button', 'Disconnect', 'danger');
    b.type = 'button';
    b.addEventListener('click', () => disconnect(ra.name, c.id, c.user));
    td.append(b);
    tr.append(td);
    return tr;
  }

  function card(ra, disconnect) {
    const div = el('div', null, 'card ra-interface');
    div.dataset.interface = ra.name;
    div.append(el('h3', ra.name + ' — ' + ra.clients.length + ' client(s)' +
      (ra.negotiating ? ', ' + ra.negotiating + ' negotiating' : '')));
    const pool = ra.pool.map((p) => p.prefix + ': ' + p.active + ' in use, ' + p.reserved + ' kept for reconnects, of ' + p.size);
    div.append(el('p', 'Pool ' + (pool.join('; ') || '–'), 'muted ra-pool'));
    const fails = Object.entries(ra.login_failures).map(([k, v]) => k + ' ' + v);
    div.append(el('p', 'Failed logins: ' + (fails.join(', ') || 'none'), 'muted ra-failures'));
    const table = el('table', null, 'ra-clients');
    const head = el('tr');
    for (const h of ['User', 'Identity', 'Virtual IP', 'Outer', 'IKE', 'Connected', 'In / out', '']) head.append(el('th', h));
    const thead = el('thead'); thead.append(head);
    const tbody = el('tbody');
    for (const c of ra.clients) tbody.append(clientRow(ra, c, disconnect));
    table.append(thead, tbody);
    div.append(table);
    return div;
  }

  // Draws `list` (the API's answer) into `container`; hides it when there is none.
  function render(container, list, disconnect) {
    container.replaceChildren();
    container.classList.toggle('hidden', !list.length);
    if (!list.length) return;
    container.append(el('h2', 'Remote access'));
    for (const ra of list) container.append(card(ra, disconnect));
  }

  return { render };
})();
