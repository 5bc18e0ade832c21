// Connecting an outside account to one's own tessera account from /account, in a real browser,
// through a real cross-site trip: tessera at http://127.0.0.1:PORT, the (fake) provider at
// http://localhost:PORT — another site. "Connect acme" → POST /account/identities (the
// `tessera_oidc` cookie and the provider's URL) → the provider's page (a form, posted) → 302 to
// tessera's callback (a cross-site top-level GET) → /account?link=CODE, where the page says
// what came of it. The browser's session goes on throughout: the callback starts none.
//
// The card's final state is `#identities-card[data-state="loaded"][data-count=N]` (or
// `data-state="error"`); the tests wait for it, never for a "Loading…" in between.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  assertNoProblems,
  captureTokens,
  expectFinalResult,
  expectText,
  expectVisible,
  launchBrowser,
  newContext,
  signIn,
  submitLogin,
  withDeadline,
} from '../lib/browser.mjs';
import { startFakeProvider } from '../lib/fake-provider.mjs';
import { PASSWORD, startServer } from '../lib/server.mjs';

const CLIENT_ID = 'client-link';
const CLIENT_SECRET = 'fake secret: with / and + to be form-encoded';
/** account.js's sentences. */
const LINKED = /^The account was connected\. You can now sign in with it\.$/;
const IDENTITY_IN_USE = /^That account at the provider is already connected to another tessera account, so it was not connected to this one\.$/;
const LINK_FAILED = /^The account could not be connected\. Please try again\.$/;
const REAUTH = /connecting an account needs a recent sign-in/;

let provider;
let server;
let browser;

before(async () => {
  provider = await startFakeProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  const secret = JSON.stringify(CLIENT_SECRET); // a TOML basic string is JSON-compatible here
  server = await startServer({
    env: {
      TESSERA_PROVIDERS: `[{name="acme", issuer="${provider.issuer}", audience="${CLIENT_ID}", algorithms=["ES256"], client_secret=${secret}}]`,
    },
    users: [{ name: 'grace' }, { name: 'heidi' }, { name: 'judy' }, { name: 'mallory' }],
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
  page.on('request', (request) => {
    if (request.isNavigationRequest()) navigations.push(`${request.method()} ${request.url().replace(/\?.*/, '?…')}`);
  });
  return { context, page, problems, captured, navigations };
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

/** Waits until the card has listed `count` connected accounts; fails with what it shows instead. */
async function expectIdentities(page, count) {
  const selector = `#identities-card[data-state="loaded"][data-count="${count}"]`;
  try {
    await page.waitForSelector(selector, { state: 'attached' });
  } catch {
    const shown = await page
      .evaluate(() => {
        const card = document.querySelector('#identities-card');
        if (!card) return 'no #identities-card';
        return `data-state=${card.dataset.state} data-count=${card.dataset.count} text=${JSON.stringify(card.textContent.replace(/\s+/g, ' ').trim())}`;
      })
      .catch((e) => `(page unreadable: ${e.message})`);
    assert.fail(`expected ${selector} on ${page.url()}; the card shows ${shown}`);
  }
  assert.equal(await page.locator('#identities tbody tr[data-identity-id]').count(), count);
}

/** The text of `selector`, trimmed. */
async function text(page, selector) {
  return ((await page.textContent(selector)) ?? '').trim();
}

/** Every cookie the browser keeps for tessera's host, whatever its path. */
async function tesseraCookies(context) {
  const host = new URL(server.url).hostname;
  return (await context.cookies()).filter((c) => c.domain === host);
}

/** Clicks "Connect acme" and waits for the provider's page (another site). */
async function connectAcme(page) {
  const button = page.locator('#connect-providers button.connect-provider');
  assert.equal(await button.count(), 1);
  assert.equal((await button.textContent()).trim(), 'Connect acme');
  const [answer] = await Promise.all([
    page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/account/identities' && r.request().method() === 'POST',
    ),
    button.click(),
  ]);
  assert.equal(answer.status(), 200, `POST /account/identities answered ${answer.status()}`);
  await page.waitForURL((url) => url.origin === provider.issuer && url.pathname === '/authorize');
}

/** On the provider's page: "Continue", then back on tessera's /account. */
async function continueBack(page, navigations, captured) {
  await page.click('#continue');
  try {
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/account');
  } catch (e) {
    assert.fail(`${e.message}\n${story(page, navigations, captured)}`);
  }
}

/** "Check with the server" reaches a final verdict: valid, for `username`. */
async function expectSessionWorks(page, username) {
  await page.click('#check');
  assert.equal(await expectFinalResult(page, '#check-result'), 'valid');
  assert.match(await text(page, '#check-result'), new RegExp(`^valid\\b.*\\b${username}$`));
}

test('a password user connects acme from /account (a cross-site trip), stays signed in, then disconnects it', async (t) => {
  const email = 'grace@example.org';
  provider.signInAs({ subject: 'acme-grace', email });
  const { context, page, problems, captured, navigations } = await open(t);
  await signIn(page, server.url, 'grace', PASSWORD);
  await expectIdentities(page, 0);
  assert.equal(await text(page, '#identities tbody td.empty'), 'No account is connected.');

  await connectAcme(page);
  // While at the provider, tessera's flow cookie is there, Lax and HttpOnly.
  const flow = (await tesseraCookies(context)).find((c) => c.name === 'tessera_oidc');
  assert.ok(flow, 'no tessera_oidc cookie after POST /account/identities');
  assert.equal(flow.sameSite, 'Lax');
  assert.equal(flow.httpOnly, true);
  assert.equal(flow.path, '/login/oidc');

  await continueBack(page, navigations, captured);
  try {
    await expectText(page, '#identities-status', LINKED);
    await expectIdentities(page, 1);
  } catch (e) {
    assert.fail(`${e.message}\n${story(page, navigations, captured)}`);
  }
  // The outcome is said once: `?link=` is gone from the address bar.
  assert.equal(new URL(page.url()).search, '');
  assert.equal(await text(page, '#identities-error'), '');
  const row = page.locator('#identities tbody tr[data-identity-id]');
  assert.equal(await row.getAttribute('data-provider'), 'acme');
  assert.match(await text(page, '#identities tbody tr[data-identity-id] td[data-label="Provider"]'), /^acme$/);
  assert.equal(await text(page, '#identities tbody tr[data-identity-id] td.identity-email'), email);
  // The provider saw the whole code flow, client authentication and PKCE included.
  assert.deepEqual(
    provider.log.filter((e) => ['/authorize', '/authorize/decision', '/token'].includes(e.path)).map((e) => e.outcome).slice(-3),
    ['consent page', 'allowed: code issued', 'tokens issued'],
    provider.describeLog(),
  );
  // Still grace, in the same session: the callback started no other.
  await expectText(page, '#who', /^grace$/);
  await expectSessionWorks(page, 'grace');
  assert.deepEqual(captured.failures, []);
  assert.equal((await tesseraCookies(context)).find((c) => c.name === 'tessera_oidc'), undefined, 'the flow cookie was not cleared');

  // grace has a password: the account may go. Disconnecting asks for a second click.
  const disconnect = '#identities tbody tr[data-identity-id] button.disconnect-identity';
  assert.equal(await page.isDisabled(disconnect), false);
  await page.click(disconnect);
  await expectText(page, disconnect, /confirm/i);
  await page.click(disconnect);
  await expectIdentities(page, 0);
  await expectText(page, '#identities-status', new RegExp(`^Disconnected acme \\(${email.replace(/[.]/g, '\\.')}\\)\\.$`));
  // …and it stays gone.
  await page.reload();
  await expectIdentities(page, 0);
  assertNoProblems(problems);
});

test('an outside account already connected to another tessera account is refused with the identity_in_use sentence', async (t) => {
  const email = 'ivan@example.org';
  provider.signInAs({ subject: 'acme-ivan', email });

  // "Sign in with acme" in a browser of its own: a new tessera user, linked to that identity.
  const first = await open(t);
  await first.page.goto(`${server.url}/login`);
  await expectVisible(first.page, '#providers');
  await first.page.click('#providers a.provider');
  await first.page.waitForURL((url) => url.origin === provider.issuer && url.pathname === '/authorize');
  await continueBack(first.page, first.navigations, first.captured);
  await expectText(first.page, '#who', new RegExp(`^${email.replace(/[.]/g, '\\.')}$`));
  // Its only way to sign in: listed, but not removable, and the page says why.
  await expectIdentities(first.page, 1);
  const firstRow = '#identities tbody tr[data-identity-id]';
  assert.equal(await text(first.page, `${firstRow} td.identity-email`), email);
  assert.equal(await first.page.isDisabled(`${firstRow} button.disconnect-identity`), true);
  assert.match(await text(first.page, `${firstRow} .why-not-removable`), /only way to sign in/);
  assertNoProblems(first.problems);

  // heidi, with a password, in another browser, tries to connect the same outside account.
  const { page, problems, captured, navigations } = await open(t);
  await signIn(page, server.url, 'heidi', PASSWORD);
  await expectIdentities(page, 0);
  await connectAcme(page);
  await continueBack(page, navigations, captured);
  try {
    await expectText(page, '#identities-error', IDENTITY_IN_USE);
    await expectIdentities(page, 0);
  } catch (e) {
    assert.fail(`${e.message}\n${story(page, navigations, captured)}`);
  }
  assert.equal(new URL(page.url()).search, '');
  assert.equal(await text(page, '#identities-status'), '');
  // heidi is still signed in, as heidi.
  await expectText(page, '#who', /^heidi$/);
  await expectSessionWorks(page, 'heidi');
  // The identity stayed where it was.
  await first.page.reload();
  await expectIdentities(first.page, 1);
  assertNoProblems(problems);
  assertNoProblems(first.problems);
});

test('a sign-in too old to connect (403 reauthentication_required) offers to sign in again, which comes back to /account', async (t) => {
  const { page, problems } = await open(t);
  await signIn(page, server.url, 'judy', PASSWORD);
  await expectIdentities(page, 0);
  // The server says so only after 10 minutes: its answer is played here.
  await page.route(`${server.url}/account/identities`, (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    return route.fulfill({
      status: 403,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'reauthentication_required', error_description: 'sign in again to do this' }),
    });
  });
  await page.click('#connect-providers button.connect-provider');
  await expectText(page, '#identities-error', REAUTH);
  await expectVisible(page, '#reauth-sign-in');
  assert.equal(new URL(page.url()).pathname, '/account', 'the page left for the provider anyway');

  await page.click('#reauth-sign-in');
  await page.waitForURL((url) => url.pathname === '/login');
  await submitLogin(page, 'judy', PASSWORD);
  await page.waitForURL((url) => url.pathname === '/account');
  await expectText(page, '#who', /^judy$/);
  await expectIdentities(page, 0);
  assert.equal(await page.isVisible('#reauth-sign-in'), false);
  assertNoProblems(problems);
});

test('an unknown ?link= value gets the generic sentence as text, and a server without the API leaves the rest of the page working', async (t) => {
  const { page, problems } = await open(t);
  await signIn(page, server.url, 'mallory', PASSWORD);
  await expectIdentities(page, 0);
  // As a server that does not have GET /account/identities would answer.
  await page.route(`${server.url}/account/identities`, (route) =>
    route.fulfill({
      status: 404,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'not_found', error_description: 'no such resource' }),
    }),
  );
  const hostile = '<img src=x id=injected>';
  await page.goto(`${server.url}/account?keep=1&link=${encodeURIComponent(hostile)}#top`);
  await page.waitForSelector('#identities-card[data-state="error"]', { state: 'attached' });
  assert.match(await text(page, '#identities-error'), LINK_FAILED);
  assert.equal(await page.locator('#injected').count(), 0, 'the query value became markup');
  assert.equal(await text(page, '#identities tbody td.empty'), 'The connected accounts could not be loaded.');
  assert.equal(await page.isVisible('#connect'), false);
  // Only `link` left the address bar.
  const url = new URL(page.url());
  assert.equal(url.search, '?keep=1');
  assert.equal(url.hash, '#top');
  // The rest of the page is whole.
  await expectText(page, '#who', /^mallory$/);
  await page.waitForSelector('#sessions tbody tr[data-session-id]', { state: 'attached' });
  await expectSessionWorks(page, 'mallory');
  assertNoProblems(problems);
});
