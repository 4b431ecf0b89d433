// ikegate panel: a tunnel's negotiation transcript (GET /api/v1/tunnels/{name}/transcript) as
// a ladder diagram: our side on the left, the peer's on the right, one arrow per message; a
// click on an arrow unfolds its decoded payload tree. Each exchange shows its outcome and, when
// it failed here, the diagnostic.
'use strict';

const IkegateTranscript = (() => {
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // Local HH:MM:SS.mmm.
  function clock(ms) {
    const d = new Date(ms);
    const p = (n, w) => String(n).padStart(w || 2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
  }

  function tree(nodes) {
    const ul = el('ul', null, 'tr-tree');
    for (const n of nodes) {
      const li = el('li');
      li.append(el('span', n.name, 'tr-pname'), el('span', ': ' + n.text, 'tr-ptext'));
      if (n.children && n.children.length) li.append(tree(n.children));
      ul.append(li);
    }
    return ul;
  }

  function messageRow(m) {
    const out = m.direction === 'out';
    const row = el('details', null, 'tr-msg ' + (out ? 'tr-out' : 'tr-in') + (m.encrypted ? ' tr-enc' : ''));
    const sum = el('summary');
    const time = el('time', clock(m.time_unix_ms), 'tr-time muted');
    const kind = m.response === true ? ' response' : m.response === false ? ' request' : '';
    const label = m.exchange + kind + ' #' + m.message_id + (m.encrypted ? ' (encrypted)' : '') +
      (m.datagrams > 1 ? ' ×' + m.datagrams : '');
    const names = (m.payloads || []).map((p) => p.name).join(' ');
    const arrow = el('span', null, 'tr-arrow');
    arrow.append(el('span', label, 'tr-label'), el('span', names, 'tr-names mono'));
    sum.append(time, el('span', 'us', 'tr-side'), arrow, el('span', 'peer', 'tr-side'));
    row.append(sum);
    const body = el('div', null, 'tr-body');
    body.append(el('div', m.length + ' bytes' + (m.encrypted ? ', encrypted (shown decrypted)' : ''), 'muted'));
    if (m.note) body.append(el('div', m.note, 'muted'));
    body.append(tree(m.payloads || []));
    row.append(body);
    return row;
  }

  function exchangeBlock(x) {
    const box = el('section', null, 'tr-exchange tr-' + x.outcome.replace(/\s+/g, '-'));
    box.dataset.outcome = x.outcome;
    const h = el('div', null, 'tr-head');
    h.append(el('strong', 'IKEv' + x.version + ' ' + x.exchange), el('span', ' message ID ' + x.message_id + ', SPI ' + x.initiator_spi + ', initiated by ' + x.initiated_by, 'muted'),
      el('span', x.outcome, 'tr-outcome'));
    box.append(h);
    for (const m of x.messages) box.append(messageRow(m));
    if (x.diagnostic) box.append(el('div', x.diagnostic, 'tr-diag error'));
    return box;
  }

  return {
    // Draws `data` (the API's answer) into `container`, newest exchange first, keeping the
    // messages the reader unfolded open.
    render(container, data) {
      const open = new Set([...container.querySelectorAll('details[open]')].map((d) => d.dataset.key));
      const blocks = [];
      const xs = (data && data.exchanges) || [];
      for (const x of xs.slice().reverse()) {
        const b = exchangeBlock(x);
        b.querySelectorAll('details').forEach((d, i) => { d.dataset.key = x.id + ':' + i; if (open.has(d.dataset.key)) d.open = true; });
        blocks.push(b);
      }
      if (!blocks.length) blocks.push(el('p', 'No IKE exchange recorded yet.', 'muted'));
      container.replaceChildren(...blocks);
    },
  };
})();
