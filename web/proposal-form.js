// The proposal editor: the tunnel's `proposal:` block as form controls (ordered algorithm lists
// with up/down/remove and an "add" menu of the names the API accepts for this tunnel, group menus,
// number fields), and the API's validation errors shown next to the field whose key they name.
// No build step. Exposes window.ProposalForm = { render, value, showErrors, clearErrors }.
'use strict';

(function () {
  let state = null; // { root, configured, lists: {key: [names]} }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // A labelled field with its error line; `key` is the API's key path (phase1.encryption).
  function field(key, label, control, hint) {
    const f = el('div', null, 'field');
    f.dataset.key = key;
    const l = el('label', label);
    f.append(l, control);
    if (hint) f.append(el('div', hint, 'muted hint'));
    f.append(el('div', '', 'field-error'));
    return f;
  }

  // An ordered list of names: each item with ↑ ↓ ✕, then a menu of the others and "add".
  function orderedList(key, choices) {
    const box = el('div', null, 'olist');
    const ul = el('ol');
    const add = el('select');
    const addBtn = el('button', 'add', 'small');
    addBtn.type = 'button';
    const redraw = () => {
      const items = state.lists[key];
      ul.replaceChildren();
      items.forEach((name, i) => {
        const li = el('li');
        li.dataset.index = String(i);
        li.append(el('span', name, 'mono item'));
        const btn = (label, title, fn, disabled) => {
          const b = el('button', label, 'small icon'); b.type = 'button'; b.title = title; b.disabled = disabled;
          b.addEventListener('click', () => { fn(); redraw(); });
          return b;
        };
        li.append(
          btn('↑', 'prefer ' + name + ' more', () => { items.splice(i - 1, 0, items.splice(i, 1)[0]); }, i === 0),
          btn('↓', 'prefer ' + name + ' less', () => { items.splice(i + 1, 0, items.splice(i, 1)[0]); }, i === items.length - 1),
          btn('✕', 'remove ' + name, () => { items.splice(i, 1); }, false));
        ul.append(li);
      });
      add.replaceChildren();
      for (const c of choices.filter((c) => !items.includes(c))) add.append(new Option(c, c));
      add.disabled = addBtn.disabled = add.options.length === 0;
    };
    addBtn.addEventListener('click', () => { if (add.value) { state.lists[key].push(add.value); redraw(); } });
    box.append(ul, el('span', null, 'add-row'));
    box.lastChild.append(add, addBtn);
    box.redraw = redraw;
    return box;
  }

  function menu(key, choices, value) {
    const s = el('select');
    s.name = key;
    for (const c of choices) s.append(new Option(c, c, false, c === value));
    return s;
  }

  function number(key, value, min) {
    const i = el('input');
    i.type = 'number'; i.name = key; i.min = String(min); i.value = String(value);
    return i;
  }

  // Builds the form for `configured` (GET …/proposals `configured`) with `choices` in `root`.
  function render(root, configured, choices) {
    const p1 = configured.phase1, p2 = configured.phase2;
    state = { root, configured, lists: {} };
    const lists = [
      ['phase1.encryption', 'Encryption', p1.encryption, choices['phase1-encryption'], 'most preferred first'],
      ['phase1.hash', 'Integrity / hash', p1.hash, choices['phase1-hash'], ''],
      ['phase1.prf', 'PRF', p1.prf, choices['phase1-prf'], 'empty: from the hash'],
      ['phase1.dh-group', 'Diffie-Hellman groups', p1['dh-groups'] && p1['dh-groups'].length ? p1['dh-groups'] : [p1['dh-group']], choices['dh-group'], 'the first is sent in the KE payload'],
      ['phase2.encryption', 'Encryption', p2.encryption, choices['phase2-encryption'], 'most preferred first'],
      ['phase2.authentication', 'Authentication', p2.authentication, choices['phase2-authentication'], 'empty with AEAD ciphers only'],
    ];
    const g1 = el('fieldset'); g1.append(el('legend', 'Phase 1 (IKE SA)'));
    const g2 = el('fieldset'); g2.append(el('legend', 'Phase 2 (ESP SA)'));
    for (const [key, label, values, ch, hint] of lists) {
      if (!ch || ch.length === 0) continue; // e.g. no PRF list on IKEv1
      state.lists[key] = (values || []).slice();
      const ol = orderedList(key, ch);
      (key.startsWith('phase1') ? g1 : g2).append(field(key, label, ol, hint));
      ol.redraw();
    }
    g1.append(field('phase1.lifetime', 'Lifetime (s)', number('phase1.lifetime', p1.lifetime, 60)));
    g2.append(field('phase2.pfs-group', 'PFS group', menu('phase2.pfs-group', choices['pfs-group'], p2['pfs-group'])));
    g2.append(field('phase2.lifetime-of-time', 'Lifetime (s)', number('phase2.lifetime-of-time', p2['lifetime-of-time'], 30)));
    g2.append(field('phase2.lifetime-of-byte', 'Lifetime (bytes, 0 = unlimited)', number('phase2.lifetime-of-byte', p2['lifetime-of-byte'], 0)));
    root.replaceChildren(g1, g2, el('div', '', 'field-error form-error'));
  }

  function input(key) { return state.root.querySelector('[name="' + key + '"]'); }

  // The PUT body: the `proposal:` block as the configuration file writes it.
  function value() {
    const c = state.configured;
    const l = state.lists;
    const num = (k) => Number(input(k).value);
    const phase1 = {
      lifetime: num('phase1.lifetime'),
      encryption: l['phase1.encryption'],
      hash: l['phase1.hash'],
      'dh-group': l['phase1.dh-group'],
      'additional-key-exchanges': c.phase1['additional-key-exchanges'],
    };
    if (l['phase1.prf']) phase1.prf = l['phase1.prf'];
    return {
      phase1,
      phase2: {
        encryption: l['phase2.encryption'],
        authentication: l['phase2.authentication'],
        'pfs-group': input('phase2.pfs-group').value,
        'lifetime-of-time': num('phase2.lifetime-of-time'),
        'lifetime-of-byte': num('phase2.lifetime-of-byte'),
        'additional-key-exchanges': c.phase2['additional-key-exchanges'],
      },
    };
  }

  function clearErrors() {
    if (!state) return;
    for (const e of state.root.querySelectorAll('.field-error')) e.textContent = '';
    for (const e of state.root.querySelectorAll('.invalid')) e.classList.remove('invalid');
  }

  // Puts each API error ({key, message}) under its field: `phase1.encryption[1]` marks the
  // second item of that list; a key with no field of its own goes to the nearest parent field,
  // or under the form.
  function showErrors(fields) {
    clearErrors();
    for (const f of fields || []) {
      let key = f.key || '';
      let box = null;
      while (key && !box) {
        box = state.root.querySelector('.field[data-key="' + key.replace(/\[\d+\]$/, '') + '"]');
        if (!box) key = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
      }
      if (!box) {
        state.root.querySelector('.form-error').textContent += (f.key ? f.key + ': ' : '') + f.message + '\n';
        continue;
      }
      box.classList.add('invalid');
      const idx = /\[(\d+)\]/.exec(f.key);
      if (idx) {
        const li = box.querySelector('li[data-index="' + idx[1] + '"]');
        if (li) li.classList.add('invalid');
      }
      const err = box.querySelector('.field-error');
      err.textContent += (err.textContent ? '\n' : '') + f.message;
    }
  }

  window.ProposalForm = { render, value, showErrors, clearErrors };
})();
