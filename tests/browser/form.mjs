// Drives the panel's throughput graph and proposal form editor in headless Chromium: opens the
// tunnel, waits for the graph to have samples (the test sends traffic), saves a screenshot of it;
// adds a second DH group to the IKEv1 tunnel's phase 1 in the form, saves, and checks that the
// API's error appears next to that field (screenshot); then fixes it, reorders the encryption
// list, changes the phase-2 lifetime, saves, and reads the proposals back through the API.
// Prints one JSON line with what it saw.
//
// Environment: PANEL_URL, PANEL_TOKEN, GRAPH_SHOT, FORM_SHOT (paths), CHROMIUM, PROFILE_DIR.
import { launch } from './lib.mjs';

const url = process.env.PANEL_URL;
const token = process.env.PANEL_TOKEN;
const tunnel = 'ipsec0';

const ctx = await launch();
const result = { ok: false };
const field = (key) => `#proposal-form .field[data-key="${key}"]`;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#login:not(.hidden)', { timeout: 10000 });
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  const row = `#tunnels tr[data-tunnel="${tunnel}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  await page.click(row);
  await page.waitForFunction(() => document.querySelector('#d-state')?.textContent === 'up', null, { timeout: 20000 });

  // The graph: at least three rates (four samples, one every 2 s) with traffic flowing both ways.
  await page.waitForFunction(() => Number(document.querySelector('#d-graph')?.dataset.points || 0) >= 3,
    null, { timeout: 15000 });
  result.graph_points = Number(await page.getAttribute('#d-graph', 'data-points'));
  result.graph_legend = await page.textContent('#d-graph-legend');
  result.graph_rates = await page.evaluate((t) => window.ThroughputGraph.rates(t), tunnel);
  await page.locator('#graph-card').screenshot({ path: process.env.GRAPH_SHOT });

  // The form: lists from the API, an invalid edit answered next to its field.
  await page.waitForSelector(field('phase1.encryption') + ' li', { timeout: 10000 });
  const items = (key) => page.$$eval(field(key) + ' li .item', (els) => els.map((e) => e.textContent));
  result.encryption_before = await items('phase1.encryption');
  result.dh_before = await items('phase1.dh-group');
  result.dh_menu = await page.$$eval(field('phase1.dh-group') + ' select option', (os) => os.map((o) => o.value));
  await page.selectOption(field('phase1.dh-group') + ' select', 'modp2048');
  await page.click(field('phase1.dh-group') + ' .add-row button');
  await page.click('#save-proposals');
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.length > 0,
    field('phase1.dh-group') + ' .field-error', { timeout: 10000 });
  result.dh_error = await page.textContent(field('phase1.dh-group') + ' .field-error');
  result.dh_field_marked = await page.$eval(field('phase1.dh-group'), (e) => e.classList.contains('invalid'));
  result.other_errors = await page.$$eval('#proposal-form .field-error',
    (els) => els.filter((e) => e.textContent && !e.closest('[data-key="phase1.dh-group"]')).map((e) => e.textContent));
  await page.locator('.card', { has: page.locator('#proposal-form') }).screenshot({ path: process.env.FORM_SHOT });

  // Fix it, reorder, change a number, save; the API has what the form said.
  await page.click(field('phase1.dh-group') + ' li[data-index="1"] button[title^="remove"]');
  await page.click(field('phase1.encryption') + ' li[data-index="1"] button[title^="prefer"]');
  await page.fill('#proposal-form input[name="phase2.lifetime-of-time"]', '3600');
  await page.click('#save-proposals');
  await page.waitForFunction(() => document.querySelector('#proposals-result')?.textContent === 'saved',
    null, { timeout: 10000 });
  result.errors_after_fix = await page.$$eval('#proposal-form .field-error', (els) => els.map((e) => e.textContent).join(''));
  result.saved = await page.evaluate(async ([t, name]) => {
    const r = await fetch('/api/v1/tunnels/' + name + '/proposals', { headers: { Authorization: 'Bearer ' + t } });
    return (await r.json()).configured;
  }, [token, tunnel]);
  result.encryption_form_after = await items('phase1.encryption');
  // Chromium logs the refused PUT (the 400 the form turned into a field error) as a console
  // error of its own; anything else is a bug.
  result.refused_puts_logged = consoleErrors.filter((m) => m.includes('status of 400')).length;
  result.console_errors = consoleErrors.filter((m) => !m.includes('status of 400'));
  result.ok = true;
  console.log(JSON.stringify(result));
} catch (e) {
  try {
    const page = ctx.pages()[0];
    if (page) await page.screenshot({ path: process.env.FORM_SHOT, fullPage: true });
  } catch (_) { /* ignore */ }
  result.error = String(e);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await ctx.close();
}
