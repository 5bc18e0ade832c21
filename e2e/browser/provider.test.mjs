// "Sign in with <provider>" in a real browser, through a real cross-site redirect chain:
// tessera at http://127.0.0.1:PORT, the (fake) provider at http://localhost:PORT — another
// site. The trip is /login → /login/oidc/acme/start → the provider's page (a form, posted)
// → 302 to /login/oidc/acme/callback (a cross-site top-level GET: the SameSite=Lax
// `tessera_oidc` cookie must come along) → 303 to /account, whose silent refresh must get the
// SameSite=Strict refresh cookie set by that cross-site-initiated callback.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  assertNoProblems,
  captureTokens,
  expectText,
  expectVisible,
  launchBrowser,
  newContext,
  sleep,
  withDeadline,
} from '../lib/browser.mjs';
import { startFakeProvider } from '../lib/fake-provider.mjs';
import { startServer } from '../lib/server.mjs';

const CLIENT_ID = 'client-1';
const CLIENT_SECRET = 'fake secret: with / and + to be form-encoded';
const EMAIL = 'ada@example.com';
/** The provider error sentence of login.js for `?error=provider_error`. */
const PROVIDER_ERROR = /The sign-in provider did not complete the sign-in\./;

let provider;
let server;
let browser;

before(async () => {
  provider = await startFakeProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, email: EMAIL });
  const secret = JSON.stringify(CLIENT_SECRET); // a TOML basic string is JSON-compatible here
  server = await startServer({
    accessTtl: '4s',
    env: {
      TESSERA_PROVIDERS: `[{name="acme", issuer="${provider.issuer}", audience="${CLIENT_ID}", algorithms=["ES256"], client_secret=${secret}}]`,
    },
  });
  browser = await launchBrowser();
}, { timeout: 60_000 });

after(async () => {
  if (browser) await withDeadline(browser.close(), 10_000, 'closing the browser').catch(() => {});
  if (server) await server.stop();
  if (provider) await provider.stop();
}, { timeout: 30_000 });

/** A page in a fresh context (closed at the end of `t`) that records every navigation. */
async function open(t) {
  const { context, problems } = await newContext(browser);
  t.after(() => withDeadline(context.close(), 10_000, 'closing a browser context').catch(() => {}));
  const captured = captureTokens(context);
  const page = await context.newPage();
  const navigations = [];
  /** Sec-Fetch-Site of each request to tessera, by path (the last one seen). */
  const fetchSite = {};
  page.on('request', (request) => {
    if (request.isNavigationRequest()) navigations.push(`${request.method()} ${request.url().replace(/\?.*/, '?…')}`);
    const url = new URL(request.url());
    if (url.origin === server.url) {
      request.allHeaders().then((h) => { fetchSite[url.pathname] = h['sec-fetch-site']; }, () => {});
    }
  });
  return { context, page, problems, captured, navigations, fetchSite };
}

/** Every cookie the browser keeps for tessera's host, whatever its path. */
async function tesseraCookies(context) {
  const host = new URL(server.url).hostname;
  return (await context.cookies()).filter((c) => c.domain === host);
}

/** What went on, for an assertion message. */
function story(page, navigations, captured) {
  return [
    `page: ${page.url()}`,
    `navigations:\n  ${navigations.join('\n  ')}`,
    `cookie-session failures: ${JSON.stringify(captured.failures)}`,
    `provider log:\n${provider.describeLog()}`,
    `server output:\n${server.output().slice(-3000)}`,
  ].join('\n');
}

/** /login → "Sign in with acme" → the provider's page (another site); returns when it shows. */
async function goToProvider(page) {
  await page.goto(`${server.url}/login`);
  await expectVisible(page, '#providers');
  const link = page.locator('#providers a.provider');
  assert.equal(await link.count(), 1);
  assert.equal((await link.textContent()).trim(), 'Sign in with acme');
  await link.click();
  await page.waitForURL((url) => url.origin === provider.issuer && url.pathname === '/authorize');
  assert.notEqual(new URL(page.url()).hostname, new URL(server.url).hostname, 'the provider must be another site');
}

test('"Sign in with acme" goes through the provider (another site) and back to /account, signed in with a Strict refresh cookie that keeps working', async (t) => {
  const { context, page, problems, captured, navigations, fetchSite } = await open(t);
  await goToProvider(page);
  // While at the provider, tessera's flow cookie is there, Lax and HttpOnly.
  const flow = (await tesseraCookies(context)).find((c) => c.name === 'tessera_oidc');
  assert.ok(flow, 'no tessera_oidc cookie after /login/oidc/acme/start');
  assert.equal(flow.sameSite, 'Lax');
  assert.equal(flow.httpOnly, true);
  assert.equal(flow.path, '/login/oidc');

  await page.click('#continue');
  try {
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/account');
    await expectText(page, '#who', new RegExp(EMAIL.replace(/[.]/g, '\\.')));
  } catch (e) {
    assert.fail(`${e.message}\n${story(page, navigations, captured)}`);
  }
  // The provider saw the whole code flow, client authentication and PKCE included.
  assert.deepEqual(
    provider.log.filter((e) => ['/authorize', '/authorize/decision', '/token'].includes(e.path)).map((e) => e.outcome),
    ['consent page', 'allowed: code issued', 'tokens issued'],
    provider.describeLog(),
  );
  // The chain really crossed sites: tessera → provider → tessera.
  const hosts = navigations.map((n) => new URL(n.split(' ')[1]).host);
  assert.ok(hosts.includes(new URL(provider.issuer).host), navigations.join('\n'));
  // …as the browser saw it: the callback, and /account at the end of that redirect chain,
  // were cross-site navigations; the page's own refresh calls are same-origin.
  assert.equal(fetchSite['/login/oidc/acme/callback'], 'cross-site');
  assert.equal(fetchSite['/account'], 'cross-site');
  assert.equal(fetchSite['/browser/session/refresh'], 'same-origin');

  const cookies = await tesseraCookies(context);
  const refresh = cookies.find((c) => c.name === 'tessera_refresh');
  assert.ok(refresh, `no refresh cookie after the callback; cookies: ${cookies.map((c) => c.name).join(', ')}`);
  assert.equal(refresh.httpOnly, true);
  assert.equal(refresh.sameSite, 'Strict');
  assert.equal(refresh.path, '/browser/session');
  assert.equal(cookies.find((c) => c.name === 'tessera_oidc'), undefined, 'the flow cookie was not cleared');

  // /account got its token by a silent refresh with that Strict cookie (the page was reached
  // through a cross-site redirect chain); with 4 s tokens another one follows in about 3 s.
  assert.ok(captured.refreshes.length >= 1, `no silent refresh on /account\n${story(page, navigations, captured)}`);
  const refreshed = captured.refreshes.length;
  const deadline = Date.now() + 8_000;
  while (captured.refreshes.length <= refreshed && Date.now() < deadline) await sleep(200);
  assert.ok(captured.refreshes.length > refreshed, `no later silent refresh\n${story(page, navigations, captured)}`);
  assert.deepEqual(captured.failures, []);
  await page.click('#check');
  await expectText(page, '#check-result', new RegExp(`^valid\\b.*${EMAIL.replace(/[.]/g, '\\.')}`));

  // A reload (a same-site navigation now) keeps the session too.
  await page.reload();
  await expectText(page, '#who', new RegExp(EMAIL.replace(/[.]/g, '\\.')));
  assert.equal(new URL(page.url()).pathname, '/account');
  assertNoProblems(problems);
});

test('the provider answering error=access_denied brings the browser back to /login with the provider error sentence', async (t) => {
  const { context, page, problems, captured, navigations } = await open(t);
  await goToProvider(page);
  const issued = provider.idTokens.length;
  await page.click('#deny');
  try {
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/login');
    await expectText(page, '#login-error', PROVIDER_ERROR);
  } catch (e) {
    assert.fail(`${e.message}\n${story(page, navigations, captured)}`);
  }
  // The `?error=` is gone from the address bar; no session, and the flow cookie cleared.
  assert.equal(new URL(page.url()).searchParams.get('error'), null);
  const cookies = await tesseraCookies(context);
  assert.equal(cookies.find((c) => c.name === 'tessera_refresh'), undefined);
  assert.equal(cookies.find((c) => c.name === 'tessera_oidc'), undefined, 'the flow cookie was not cleared');
  assert.equal(provider.idTokens.length, issued, 'a token was issued for a denied sign-in');
  assertNoProblems(problems);
});
