// Drives the admin panel in headless Chromium (Debian's, via playwright-core): logs in with the
// token, waits for the tunnel to be "up", opens it, presses "Rekey", waits until the current
// outbound SPI changes, and saves a screenshot. Prints one JSON line with what it saw.
//
// Environment: PANEL_URL, PANEL_TOKEN, SCREENSHOT (path), CHROMIUM (executable),
// PROFILE_DIR (fresh user data dir), TUNNEL (default ipsec0).
import { launch } from './lib.mjs';

const url = process.env.PANEL_URL;
const token = process.env.PANEL_TOKEN;
const shot = process.env.SCREENSHOT;
const tunnel = process.env.TUNNEL || 'ipsec0';

const ctx = await launch();
const result = { ok: false, ms: {} };
const t0 = Date.now();
const mark = (step) => { result.ms[step] = Date.now() - t0; };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  // The panel asks for the token once.
  await page.waitForSelector('#login:not(.hidden)', { timeout: 10000 });
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  const row = `#tunnels tr[data-tunnel="${tunnel}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  await page.waitForFunction((sel) => {
    const s = document.querySelector(sel + ' .tunnel-state');
    return s && s.textContent.trim() === 'up';
  }, row, { timeout: 20000 });
  mark('list_up');
  result.list_state = (await page.textContent(row + ' .tunnel-state')).trim();
  await page.screenshot({ path: shot.replace(/\.png$/, '-list.png') });
  mark('clicked');
  await page.click(row);
  await page.waitForFunction(() => document.querySelector('#d-state')?.textContent === 'up',
    null, { timeout: 10000 });
  const currentOut = () => page.evaluate(() => {
    for (const td of document.querySelectorAll('#d-phase2 td.spi-out')) {
      if (td.textContent.includes('(current)')) return td.textContent.replace(' (current)', '');
    }
    return null;
  });
  await page.waitForFunction(() => [...document.querySelectorAll('#d-phase2 td.spi-out')]
    .some((td) => td.textContent.includes('(current)')), null, { timeout: 10000 });
  mark('spi_before');
  result.spi_before = await currentOut();
  result.token_in_session = await page.evaluate(() => sessionStorage.getItem('ikegate-token') !== null);
  await page.click('#btn-rekey');
  await page.waitForFunction(() => document.querySelector('#action-result')?.className === 'ok',
    null, { timeout: 10000 });
  mark('rekey_ok');
  result.rekey_answer = await page.textContent('#action-result');
  // The `outbound` event refreshes the page when the new SA takes over: well before the
  // 10 s counters poll would.
  await page.waitForFunction((before) => [...document.querySelectorAll('#d-phase2 td.spi-out')]
    .some((td) => td.textContent.includes('(current)') && !td.textContent.startsWith(before)),
  result.spi_before, { timeout: 8000 });
  mark('spi_after');
  result.spi_after = await currentOut();
  result.state_after = await page.textContent('#d-state');
  // Let a poll show the counters of the new SA, then take the picture.
  await page.waitForTimeout(2500);
  await page.screenshot({ path: shot, fullPage: true });
  result.console_errors = consoleErrors;
  result.ok = result.spi_after !== null && result.spi_after !== result.spi_before;
  console.log(JSON.stringify(result));
} catch (e) {
  try {
    const page = ctx.pages()[0];
    if (page) await page.screenshot({ path: shot, fullPage: true });
  } catch (_) { /* ignore */ }
  result.error = String(e);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await ctx.close();
}
