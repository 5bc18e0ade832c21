// The login page: what a person is told when sign-in fails, sign-in with the keyboard
// alone, and a phone-sized screen.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertNoProblems, expectText, submitLogin, useServerAndBrowser } from '../lib/browser.mjs';
import { PASSWORD } from '../lib/server.mjs';

const ATTEMPTS = 3;

const env = useServerAndBrowser({
  env: {
    TESSERA_THROTTLE__ACCOUNT_ATTEMPTS: String(ATTEMPTS),
    TESSERA_THROTTLE__ACCOUNT_WINDOW: '1m',
  },
  users: [{ name: 'bob' }, { name: 'carol' }, { name: 'dave' }, { name: 'erin' }, { name: 'fay' }],
});

/** Submits the form and waits for the answer of POST /browser/session. */
async function attempt(page, username, password) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/browser/session' && r.request().method() === 'POST'),
    submitLogin(page, username, password),
  ]);
  return response.status();
}

test('a wrong password is said in #login-error, and the page stays', async (t) => {
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/login`);
  assert.equal(await page.getAttribute('#login-error', 'role'), 'alert');
  assert.equal(await attempt(page, 'bob', 'not the password'), 401);
  await expectText(page, '#login-error', /The username or password is wrong\./);
  assert.equal(new URL(page.url()).pathname, '/login');
  // An unknown user reads the same.
  assert.equal(await attempt(page, 'nobody', 'not the password'), 401);
  await expectText(page, '#login-error', /The username or password is wrong\./);
  assertNoProblems(problems);
});

test('too many failures: the page says how many seconds to wait, and counts down', async (t) => {
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/login`);
  let status;
  for (let i = 0; i <= ATTEMPTS + 1 && status !== 429; i += 1) {
    status = await attempt(page, 'carol', `wrong ${i}`);
  }
  assert.equal(status, 429, 'the throttle never answered 429');
  const text = await expectText(page, '#login-error', /Too many attempts\. Try again in \d+ seconds?\./);
  const first = Number(/in (\d+) second/.exec(text)[1]);
  assert.ok(first >= 1 && first <= 60, `wait of ${first} s`);
  // Counting down: the number shrinks (at least one second later).
  await page.waitForFunction(
    (n) => {
      const m = /in (\d+) second/.exec(document.querySelector('#login-error')?.textContent ?? '');
      return m && Number(m[1]) < n;
    },
    first,
    { timeout: 4_000 },
  );
  assertNoProblems(problems);
});

test('a disabled account is told so (with the right password)', async (t) => {
  await env.server.disableUser('dave');
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/login`);
  assert.equal(await attempt(page, 'dave', PASSWORD), 403);
  await expectText(page, '#login-error', /This account is disabled\./);
  assert.equal(new URL(page.url()).pathname, '/login');
  assertNoProblems(problems);
});

test('signing in with the keyboard alone (Tab, typing, Enter)', async (t) => {
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/login`);
  const focused = () => page.evaluate(() => document.activeElement?.id ?? '');
  for (let i = 0; i < 20 && (await focused()) !== 'username'; i += 1) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'username', 'Tab never reached #username');
  await page.keyboard.type('erin');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'password', 'Tab from #username does not go to #password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.pathname === '/account');
  await expectText(page, '#who', /\berin\b/);
  assertNoProblems(problems);
});

test('the login page fits a 360×640 screen without horizontal scrolling', async (t) => {
  const { page, problems } = await env.open(t, { viewport: { width: 360, height: 640 } });
  await page.goto(`${env.server.url}/login`);
  await page.waitForSelector('#sign-in', { state: 'visible' });
  const sizes = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(sizes.scroll <= sizes.client && sizes.body <= sizes.client, `horizontal scroll: ${JSON.stringify(sizes)}`);
  for (const id of ['#username', '#password', '#sign-in']) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${id} is outside the screen: ${JSON.stringify(box)}`);
  }
  // And it works there.
  await submitLogin(page, 'fay', PASSWORD);
  await page.waitForURL((url) => url.pathname === '/account');
  assertNoProblems(problems);
});

test('an error from the provider sign-in flow is explained on the login page', async (t) => {
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/login?error=state_mismatch`);
  const text = await expectText(page, '#login-error', /\S/);
  assert.doesNotMatch(text, /state_mismatch/, 'the page shows the raw code instead of a sentence');
  assertNoProblems(problems);
});
