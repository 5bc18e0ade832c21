// The README's screenshots: starts a throw-away tessera issuer, signs in as an admin in
// headless Chromium and writes docs/screenshots/{login,account,inspect,admin,login-phone}.png.
// Run by hand after changing the pages: `node e2e/screenshots.mjs` (after `npm ci` in e2e/
// and `cargo build -p tessera`); not part of the test run.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { expectVerdict, launchBrowser, newContext, signIn, withDeadline } from './lib/browser.mjs';
import { PASSWORD, REPO_ROOT, startServer } from './lib/server.mjs';

const OUT = path.join(REPO_ROOT, 'docs', 'screenshots');
const DESKTOP = { width: 1200, height: 800 };
const PHONE = { width: 390, height: 844 };

async function main() {
  await mkdir(OUT, { recursive: true });
  const server = await startServer({
    users: [
      { name: 'alice', roles: ['admin'] },
      { name: 'bob', roles: ['reader'] },
    ],
  });
  let browser;
  try {
    browser = await launchBrowser();
    const shot = async (page, name) => {
      // Let the page's scripts settle (data loaded, counters drawn) before the picture.
      await page.waitForLoadState('networkidle');
      const file = path.join(OUT, `${name}.png`);
      await page.screenshot({ path: file });
      console.log(`wrote ${path.relative(REPO_ROOT, file)}`);
    };

    // The phone-sized login page, in its own context (the phone's screen and touch).
    {
      const { context } = await newContext(browser, { viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
      const page = await context.newPage();
      await page.goto(`${server.url}/login`);
      await shot(page, 'login-phone');
      await context.close();
    }

    // A second session of alice's, so that the account page lists more than one.
    {
      const { context } = await newContext(browser, {
        viewport: DESKTOP,
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Firefox/128.0',
      });
      const page = await context.newPage();
      await signIn(page, server.url, 'alice', PASSWORD);
      await context.close();
    }

    const { context } = await newContext(browser, { viewport: DESKTOP, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.fill('#username', 'alice');
    await shot(page, 'login');

    await signIn(page, server.url, 'alice', PASSWORD);
    await page.waitForSelector('#sessions tr[data-session-id]');
    await shot(page, 'account');

    const { access_token: token } = await server.login('alice');
    await page.goto(`${server.url}/inspect`);
    await page.fill('#token', token);
    await page.selectOption('#key-source', 'issuer');
    await page.click('#verify');
    await expectVerdict(page, 'valid');
    await shot(page, 'inspect');

    await page.goto(`${server.url}/admin`);
    await page.waitForSelector('tr[data-kid]');
    await page.click('#rotate');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-kid]').length > 1);
    await page.waitForSelector('tr[data-username="bob"]');
    await shot(page, 'admin');
    await context.close();
  } finally {
    if (browser) await withDeadline(browser.close(), 10_000, 'closing the browser').catch(() => {});
    await server.stop();
  }
}

// A hard deadline: the script never hangs.
const deadline = setTimeout(() => {
  console.error('screenshots: no result after 120 s');
  process.exit(1);
}, 120_000);
deadline.unref();

main().then(
  () => clearTimeout(deadline),
  (e) => {
    console.error(`screenshots: ${e.stack ?? e}`);
    process.exitCode = 1;
  },
);
