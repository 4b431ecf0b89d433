// Drives the panel after a failed negotiation: logs in, opens the tunnel, waits for the
// transcript ladder to show an exchange with a diagnostic, and prints its outcome and the
// diagnostic's text as one JSON line; screenshot `transcript-failure.png`.
//
// Environment: PANEL_URL, PANEL_TOKEN, ARTIFACTS (directory), CHROMIUM, PROFILE_DIR, TUNNEL.
import { launch } from './lib.mjs';

const url = process.env.PANEL_URL;
const tunnel = process.env.TUNNEL || 'ipsec0';
const ctx = await launch();
const result = { ok: false };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url + '#/tunnel/' + encodeURIComponent(tunnel), { waitUntil: 'load' });
  await page.waitForSelector('#login:not(.hidden)', { timeout: 10000 });
  await page.fill('#token', process.env.PANEL_TOKEN);
  await page.click('#login-form button[type=submit]');
  const diag = page.locator('#transcript .tr-exchange .tr-diag').first();
  await diag.waitFor({ timeout: 20000 });
  const exchange = page.locator('#transcript .tr-exchange:has(.tr-diag)').first();
  result.outcome = await exchange.getAttribute('data-outcome');
  result.diagnostic = await diag.textContent();
  await page.locator('#transcript').screenshot({ path: process.env.ARTIFACTS + '/transcript-failure.png' });
  result.console_errors = consoleErrors;
  result.ok = true;
} catch (e) {
  result.error = String(e);
  process.exitCode = 1;
} finally {
  console.log(JSON.stringify(result));
  await ctx.close();
}
