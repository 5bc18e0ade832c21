// Signing in through the login page, where the access token lives (memory only) and the
// silent refresh that keeps an open page signed in.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  assertNoProblems,
  captureSignInAnswers,
  expectFinalResult,
  expectText,
  payloadOf,
  signIn,
  sleep,
  useServerAndBrowser,
} from '../lib/browser.mjs';
import { PASSWORD } from '../lib/server.mjs';

const env = useServerAndBrowser({
  accessTtl: '4s',
  users: [{ name: 'alice' }, { name: 'olivia' }, { name: 'sam' }, { name: 'una' }],
});

test('signing in on the login page lands on /account, which names the user', async (t) => {
  const { page, problems } = await env.open(t);
  await signIn(page, env.server.url, 'alice', PASSWORD);
  assert.equal(new URL(page.url()).pathname, '/account');
  await expectText(page, '#who', /\balice\b/);
  assertNoProblems(problems);
});

test('without a session, / and /account send the browser to /login, which returns there after sign-in', async (t) => {
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/`);
  await page.waitForURL((url) => url.pathname === '/login');
  await page.goto(`${env.server.url}/login?return_to=/inspect`);
  await page.fill('#username', 'alice');
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
  await page.waitForURL((url) => url.pathname === '/inspect');
  assertNoProblems(problems);
});

test('the access token is never in storage, readable cookies or the HTML; the refresh cookie is HttpOnly, SameSite=Strict, Path=/browser/session', async (t) => {
  const { context, page, problems, captured } = await env.open(t);
  // The login page leaves for /account as soon as it has the token, which makes the body of
  // the sign-in answer unreadable to the response listener: read it on the way in.
  const signInAnswers = await captureSignInAnswers(context, page, env.server.url);
  await signIn(page, env.server.url, 'olivia', PASSWORD);
  await page.waitForFunction(() => document.querySelector('#expires-in')?.getAttribute('data-exp'));
  // Wait for one silent refresh on /account too, so that every way the token is handed over
  // has happened (the 4 s tokens are refreshed after about 3 s).
  const deadline = Date.now() + 8_000;
  while (captured.refreshes.length < 2 && Date.now() < deadline) await sleep(200);
  await captured.settled();

  assert.equal(signInAnswers.length, 1, 'the sign-in answer was not captured');
  const tokens = [...signInAnswers.map((b) => b.access_token), ...captured.tokens];
  assert.ok(captured.tokens.length >= 1, 'no token captured from the refresh answers');
  for (const body of [...signInAnswers, ...captured.bodies]) {
    assert.equal(typeof body.access_token, 'string');
    assert.equal(body.refresh_token, undefined, 'a /browser/session answer carries a refresh_token');
    assert.equal(body.token_type, 'Bearer');
  }
  // The whole token, and its signature alone (the part nobody could reconstruct).
  const secrets = tokens.flatMap((token) => [token, token.split('.')[2]]);
  const leaks = (where, text) => {
    for (const secret of secrets) assert.ok(!text.includes(secret), `an access token is in ${where}`);
  };

  const seen = await page.evaluate(() => ({
    local: JSON.stringify(Object.entries(localStorage)),
    session: JSON.stringify(Object.entries(sessionStorage)),
    cookie: document.cookie,
    html: document.documentElement.outerHTML,
  }));
  leaks('localStorage', seen.local);
  leaks('sessionStorage', seen.session);
  leaks('document.cookie', seen.cookie);
  leaks('the page HTML', seen.html);
  leaks('the page content', await page.content());

  // Every cookie of the context, whatever its path.
  const cookies = await context.cookies();
  for (const cookie of cookies) {
    if (!cookie.httpOnly) leaks(`the readable cookie ${cookie.name}`, cookie.value);
    assert.ok(!tokens.includes(cookie.value), `the cookie ${cookie.name} holds an access token`);
  }
  const refresh = cookies.find((c) => c.name === 'tessera_refresh');
  assert.ok(refresh, `no tessera_refresh cookie among ${cookies.map((c) => c.name).join(', ')}`);
  assert.equal(refresh.httpOnly, true, 'tessera_refresh is not HttpOnly');
  assert.equal(refresh.sameSite, 'Strict');
  assert.equal(refresh.path, '/browser/session');
  const csrf = cookies.find((c) => c.name === 'tessera_csrf');
  assert.ok(csrf, 'no tessera_csrf cookie');
  assert.equal(csrf.httpOnly, false, 'the CSRF cookie must be readable by the page');
  assert.equal(csrf.sameSite, 'Strict');
  assert.equal(csrf.path, '/');
  assert.match(csrf.value, /^[A-Za-z0-9_-]{43}$/);
  assertNoProblems(problems);
});

test('an open page refreshes silently before the token expires, and the server accepts the token it holds', async (t) => {
  const { page, problems, captured } = await env.open(t);
  await signIn(page, env.server.url, 'sam', PASSWORD);
  await page.waitForFunction(() => document.querySelector('#expires-in')?.getAttribute('data-exp'));
  // The page's first refresh (on load) is not one of the silent ones counted below.
  for (const until = Date.now() + 5_000; captured.refreshes.length < 1 && Date.now() < until; ) await sleep(50);
  const firstExp = Number(await page.getAttribute('#expires-in', 'data-exp'));
  const refreshesBefore = captured.refreshes.length;
  await expectText(page, '#expires-in', /expires in \d+\s?s/);

  await sleep(10_000);

  const refreshes = captured.refreshes.length - refreshesBefore;
  assert.ok(refreshes >= 2, `expected at least two silent refreshes in 10 s with 4 s tokens, saw ${refreshes}`);
  assert.deepEqual(captured.failures, [], 'a session request failed');
  const lastExp = Number(await page.getAttribute('#expires-in', 'data-exp'));
  assert.ok(lastExp > firstExp, `#expires-in data-exp did not move forward (${firstExp} → ${lastExp})`);
  // The answer that carried it may still be on its way to this process.
  const hasExp = () => captured.tokens.some((token) => payloadOf(token).exp === lastExp);
  for (const until = Date.now() + 3_000; !hasExp() && Date.now() < until; ) await sleep(50);
  await captured.settled();
  assert.ok(
    hasExp(),
    `data-exp ${lastExp} is the exp of none of the tokens the page received`,
  );

  await page.click('#check');
  // The check's final state: account.js sets data-result (and the text with it) only when the
  // answer is in; before that the text is the transient "checking…".
  const verdict = await expectFinalResult(page, '#check-result');
  const result = (await page.textContent('#check-result')).trim();
  assert.equal(verdict, 'valid', `the check says ${JSON.stringify(result)}`);
  assert.match(result, /^valid\b/i);
  assert.match(result, /\bsam\b/);
  assertNoProblems(problems);
});

test('an open page whose session was ended elsewhere goes to /login at its next silent refresh', async (t) => {
  const a = await env.open(t);
  const b = await env.open(t);
  await signIn(a.page, env.server.url, 'una', PASSWORD);
  await signIn(b.page, env.server.url, 'una', PASSWORD);

  await a.page.click('#sign-out-everywhere');
  await a.page.waitForURL((url) => url.pathname === '/login');

  // B is left alone: its next refresh (4 s tokens: within about 3 s) finds the session gone
  // and sends it to the login page, which will bring it back to /account.
  await b.page.waitForURL((url) => url.pathname === '/login', { timeout: 10_000 });
  assert.equal(new URL(b.page.url()).searchParams.get('return_to'), '/account');
  assert.ok(b.captured.failures.some((f) => f.status === 401), 'B was not refused a refresh');
  assertNoProblems(a.problems);
  assertNoProblems(b.problems);
});
