// Every page runs under its strict Content-Security-Policy without a single violation: no
// inline script or style, no event-handler attributes, nothing loaded from elsewhere.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertNoProblems, expectVerdict, signIn, useServerAndBrowser } from '../lib/browser.mjs';
import { PASSWORD } from '../lib/server.mjs';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const PAGES = ['/login', '/account', '/inspect', '/admin'];

const env = useServerAndBrowser({ users: [{ name: 'root', roles: ['admin'] }] });

/** A directive map of a policy, so that spacing and order do not matter. */
function directives(policy) {
  return Object.fromEntries(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...values]) => [name, values.sort().join(' ')]),
  );
}

test('each page carries the strict policy, no-store, and no inline script, style or handler', async () => {
  for (const path of PAGES) {
    const res = await env.server.fetch(path);
    assert.equal(res.status, 200, `GET ${path}`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `${path} content-type`);
    assert.deepEqual(directives(res.headers.get('content-security-policy') ?? ''), directives(CSP), `${path} CSP`);
    assert.match(res.headers.get('cache-control') ?? '', /no-store/, `${path} Cache-Control`);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${path} has an inline <script>`);
    assert.doesNotMatch(html, /\sstyle\s*=/i, `${path} has a style attribute`);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, `${path} has an event-handler attribute`);
    assert.doesNotMatch(html, /<style[\s>]/i, `${path} has a <style> element`);
  }
});

test('no page reports a Content Security Policy violation while in use', async (t) => {
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/login`);
  await page.waitForLoadState('networkidle');
  await signIn(page, env.server.url, 'root', PASSWORD);
  await page.waitForLoadState('networkidle');
  for (const path of ['/inspect', '/admin', '/account']) {
    await page.goto(`${env.server.url}${path}`);
    await page.waitForLoadState('networkidle');
  }
  // The inspector at work too (decoding, the JWKS fetch, WebCrypto).
  const { access_token: token } = await env.server.login('root');
  await page.goto(`${env.server.url}/inspect`);
  await page.fill('#token', token);
  await page.selectOption('#key-source', 'issuer');
  await page.click('#verify');
  await expectVerdict(page, 'valid');
  assertNoProblems(problems);
});
