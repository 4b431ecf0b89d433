// Drives the panel's live parts in headless Chromium: logs in, opens the tunnel, waits for the
// event stream to be live and the transcript ladder to be drawn, presses "Rekey", and measures
// how long the gateway's events took to reach the page (publish time in the event vs arrival in
// the page; both on this machine's clock) and how long until the SA table showed the new SA
// (without polling: the panel refreshes on the event). Unfolds a decrypted message of the ladder
// and saves screenshots of the ladder and the timeline. Prints one JSON line.
//
// Environment: PANEL_URL, PANEL_TOKEN, ARTIFACTS (directory), CHROMIUM, PROFILE_DIR, TUNNEL.
import { launch } from './lib.mjs';

const url = process.env.PANEL_URL;
const token = process.env.PANEL_TOKEN;
const dir = process.env.ARTIFACTS;
const tunnel = process.env.TUNNEL || 'ipsec0';

const ctx = await launch();
const result = { ok: false };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url + '#/tunnel/' + encodeURIComponent(tunnel), { waitUntil: 'load' });
  await page.waitForSelector('#login:not(.hidden)', { timeout: 10000 });
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#timeline-state')?.textContent === 'live',
    null, { timeout: 10000 });
  await page.waitForSelector('#transcript .tr-exchange', { timeout: 10000 });
  result.exchanges_before = await page.locator('#transcript .tr-exchange').count();
  // Wait out any refresh in flight, then rekey and time the events.
  await page.waitForTimeout(500);
  const clicked = await page.evaluate(() => Date.now());
  await page.click('#btn-rekey');
  await page.waitForFunction((t) => IkegateEvents.all().some((e) => !e.local && e.received_ms >= t &&
    (e.kind === 'rekey' || e.kind === 'child-up')), clicked, { timeout: 30000, polling: 'raf' });
  const ev = await page.evaluate((t) => IkegateEvents.all().find((e) => !e.local && e.received_ms >= t &&
    (e.kind === 'rekey' || e.kind === 'child-up')), clicked);
  result.event = ev;
  result.event_latency_ms = ev.received_ms - ev.time_unix_ms;
  // The new inbound SPI of the event must appear in the SA table, refreshed by the event.
  const spi = (ev.message.match(/in (0x[0-9a-f]{8})/) || [])[1];
  result.new_spi = spi;
  await page.waitForFunction((s) => [...document.querySelectorAll('#d-phase2 td.spi-in')]
    .some((td) => td.textContent === s), spi, { timeout: 5000, polling: 'raf' });
  result.table_latency_ms = (await page.evaluate(() => Date.now())) - ev.received_ms;
  result.timeline_kinds = await page.evaluate(() => [...document.querySelectorAll('#timeline li')].map((li) => li.dataset.kind));
  // The ladder after the rekey: unfold the first encrypted message that has payloads.
  await page.waitForFunction((n) => document.querySelectorAll('#transcript .tr-exchange').length > n,
    result.exchanges_before, { timeout: 10000 });
  result.exchanges_after = await page.locator('#transcript .tr-exchange').count();
  const enc = page.locator('#transcript details.tr-msg.tr-enc').first();
  await enc.locator('summary').click();
  result.unfolded_payloads = await enc.locator('.tr-tree li').count();
  result.outcomes = await page.evaluate(() => [...document.querySelectorAll('#transcript .tr-exchange')].map((x) => x.dataset.outcome));
  await page.locator('#transcript').screenshot({ path: dir + '/transcript.png' });
  await page.locator('#events').screenshot({ path: dir + '/timeline.png' });
  await page.screenshot({ path: dir + '/panel-live.png', fullPage: true });
  result.console_errors = consoleErrors;
  result.ok = true;
  console.log(JSON.stringify(result));
} catch (e) {
  try {
    const page = ctx.pages()[0];
    if (page) await page.screenshot({ path: dir + '/panel-live-error.png', fullPage: true });
  } catch (_) { /* ignore */ }
  result.error = String(e);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await ctx.close();
}
