// What every panel driver shares: Debian's Chromium launched headless the same way, with the
// fresh profile in PROFILE_DIR (executable in CHROMIUM).
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launchPersistentContext(process.env.PROFILE_DIR, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
    viewport: { width: 1400, height: 1000 },
  });
}
