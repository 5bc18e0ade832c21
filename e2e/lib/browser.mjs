// Headless Debian Chromium driven by playwright-core (no browser download), and the helpers
// the browser tests share: contexts that record Content-Security-Policy violations and page
// errors, capture of the access tokens the session API hands the page, sign-in through the
// login page.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

import { startServer } from './server.mjs';

/** Default deadline of each browser action and navigation, ms. */
export const ACTION_TIMEOUT_MS = 15_000;

/** The Chromium binary: $CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Launches headless Chromium. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * A fresh browser context (its own cookies and storage) that records, in `problems`, every
 * console message about the Content Security Policy, every `securitypolicyviolation` event
 * and every uncaught page error.
 *
 * @returns {Promise<{context: import('playwright-core').BrowserContext, problems: string[]}>}
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, ...options });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const problems = [];
  // Runs before the page's scripts (through the DevTools protocol, which CSP does not govern):
  // turns each violation into a console message the listener below sees.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(
        `Content Security Policy violation event: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`,
      );
    });
  });
  context.on('console', (msg) => {
    if (/Content.Security.Policy/i.test(msg.text())) problems.push(`${msg.page()?.url()}: ${msg.text()}`);
  });
  context.on('weberror', (err) => {
    problems.push(`${err.page()?.url()}: uncaught ${err.error()}`);
  });
  return { context, problems };
}

/** Fails when a context recorded a CSP violation or a page error. */
export function assertNoProblems(problems) {
  assert.deepEqual(problems, [], `CSP violations or page errors:\n${problems.join('\n')}`);
}

/** True for the URL of a cookie-session endpoint that answers with an access token. */
export function isTokenEndpoint(url) {
  const { pathname } = new URL(url);
  return pathname === '/browser/session' || pathname === '/browser/session/refresh';
}

/**
 * Records the access tokens handed to the pages of `context` (the JSON bodies of
 * `POST /browser/session` and `POST /browser/session/refresh`) and counts the refreshes.
 */
export function captureTokens(context) {
  const captured = { tokens: [], bodies: [], refreshes: [], logins: 0, failures: [], pending: new Set() };
  context.on('response', (response) => {
    const request = response.request();
    if (request.method() !== 'POST' || !isTokenEndpoint(response.url())) return;
    const isRefresh = new URL(response.url()).pathname.endsWith('/refresh');
    if (!response.ok()) {
      captured.failures.push({ url: response.url(), status: response.status() });
      return;
    }
    if (isRefresh) captured.refreshes.push(Date.now());
    else captured.logins += 1;
    // The body is read while the page that asked for it may already be navigating away (then
    // it is lost: see captureSignInAnswers): keep the promise so that a test can wait for it.
    const read = response
      .json()
      .then((body) => {
        captured.bodies.push(body);
        if (body && typeof body.access_token === 'string') captured.tokens.push(body.access_token);
      })
      .catch(() => {})
      .finally(() => captured.pending.delete(read));
    captured.pending.add(read);
  });
  captured.settled = () => Promise.all([...captured.pending]);
  return captured;
}

/**
 * Reads the bodies of `page`'s sign-in answers (`POST /browser/session`) before the page gets
 * them, through the DevTools protocol's Fetch domain (response stage, passed on unchanged).
 * The login page navigates away as soon as it has the token, after which Playwright can no
 * longer read that answer's body; this way the token is captured all the same.
 * Resolves with the array the bodies (parsed JSON) are pushed to.
 */
export async function captureSignInAnswers(context, page, baseUrl) {
  const bodies = [];
  const cdp = await context.newCDPSession(page);
  cdp.on('Fetch.requestPaused', async (event) => {
    try {
      if (event.responseStatusCode === 200) {
        const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId: event.requestId });
        bodies.push(JSON.parse(base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body));
      }
    } catch {
      // Not JSON, or the request went away: nothing to capture.
    }
    await cdp.send('Fetch.continueResponse', { requestId: event.requestId }).catch(() => {});
  });
  await cdp.send('Fetch.enable', {
    patterns: [{ urlPattern: `${baseUrl}/browser/session`, requestStage: 'Response' }],
  });
  return bodies;
}

/** Fills the login page's form and submits it with the mouse. Does not wait for the result. */
export async function submitLogin(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#sign-in');
}

/** Signs in through the login page and waits for the account page. */
export async function signIn(page, baseUrl, username, password) {
  await page.goto(`${baseUrl}/login`);
  await submitLogin(page, username, password);
  await page.waitForURL((url) => url.pathname === '/account');
  await page.waitForFunction(() => (document.querySelector('#who')?.textContent ?? '').trim() !== '');
}

/** Base64url of a string or buffer. */
export function b64u(data) {
  return Buffer.from(data).toString('base64url');
}

/** Decodes a JWT's payload (no verification). */
export function payloadOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Sleeps. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Registers `before`/`after` hooks of the calling test file that start a tessera server
 * (`startServer(serverOptions)`) and a browser, and stop both. Returns an object whose
 * `server` and `browser` are set once the hooks ran, and whose `open(t, contextOptions)`
 * opens a page in a fresh context closed at the end of test `t`.
 */
export function useServerAndBrowser(serverOptions = {}) {
  const env = {
    server: undefined,
    browser: undefined,
    /**
     * @returns {Promise<{context, page, problems: string[], captured: ReturnType<typeof captureTokens>}>}
     */
    async open(t, contextOptions = {}) {
      const { context, problems } = await newContext(env.browser, contextOptions);
      t.after(() => withDeadline(context.close(), 10_000, 'closing a browser context').catch(() => {}));
      const captured = captureTokens(context);
      const page = await context.newPage();
      return { context, page, problems, captured };
    },
  };
  before(async () => {
    env.server = await startServer(serverOptions);
    env.browser = await launchBrowser();
  }, { timeout: 60_000 });
  after(async () => {
    if (env.browser) await withDeadline(env.browser.close(), 10_000, 'closing the browser').catch(() => {});
    if (env.server) await env.server.stop();
  }, { timeout: 30_000 });
  return env;
}

/** `promise`, or a rejection after `ms`. */
export function withDeadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Waits until `#verdict`'s data-verdict is `expected`; fails with what the page shows instead.
 */
export async function expectVerdict(page, expected, timeout = ACTION_TIMEOUT_MS) {
  try {
    await page.waitForFunction(
      (want) => document.querySelector('#verdict')?.getAttribute('data-verdict') === want,
      expected,
      { timeout },
    );
  } catch {
    const shown = await page.evaluate(() => {
      const el = document.querySelector('#verdict');
      return el ? `data-verdict=${el.getAttribute('data-verdict')} text=${JSON.stringify(el.textContent.trim())}` : 'no #verdict';
    });
    assert.fail(`expected #verdict data-verdict=${expected}, the page shows ${shown}`);
  }
  return (await page.textContent('#verdict')).trim();
}

/** Waits until the text of `selector` matches `pattern`; fails with the text shown instead. */
export async function expectText(page, selector, pattern, timeout = ACTION_TIMEOUT_MS) {
  try {
    await page.waitForFunction(
      ([sel, source, flags]) => new RegExp(source, flags).test(document.querySelector(sel)?.textContent ?? ''),
      [selector, pattern.source, pattern.flags],
      { timeout },
    );
  } catch {
    const shown = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? null, selector);
    assert.fail(`expected ${selector} to match ${pattern}, it shows ${JSON.stringify(shown)} (page ${page.url()})`);
  }
  return (await page.textContent(selector)).trim();
}

/**
 * Waits until `selector` carries a `data-result` attribute (the pages set it only once an
 * answer is in, never on the transient "checking…" state) and returns its value; on timeout
 * fails with what the element shows instead.
 */
export async function expectFinalResult(page, selector, timeout = ACTION_TIMEOUT_MS) {
  try {
    await page.waitForSelector(`${selector}[data-result]`, { state: 'attached', timeout });
  } catch {
    const shown = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? null, selector);
    assert.fail(`expected ${selector} to reach a result, it shows ${JSON.stringify(shown)} (page ${page.url()})`);
  }
  return page.getAttribute(selector, 'data-result');
}

/**
 * Waits until `selector` is visible; on timeout fails with what the page shows instead (its
 * URL and the text of its alert and status regions).
 */
export async function expectVisible(page, selector, timeout = ACTION_TIMEOUT_MS) {
  try {
    await page.waitForSelector(selector, { state: 'visible', timeout });
  } catch {
    const shown = await page
      .evaluate(() =>
        [...document.querySelectorAll('[role=alert], [role=status]')]
          .map((e) => `#${e.id}: ${JSON.stringify(e.textContent.trim())}`)
          .join('; '),
      )
      .catch((e) => `(page unreadable: ${e.message})`);
    assert.fail(`${selector} never became visible on ${page.url()}; the page says: ${shown}`);
  }
}
