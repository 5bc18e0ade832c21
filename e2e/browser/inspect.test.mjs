// The token inspector: decodes as you type, verifies with this issuer's JWKS or with a key
// or secret pasted in the page, and says why a token fails in the CLI's words.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';

import { assertNoProblems, b64u, expectText, expectVerdict, useServerAndBrowser } from '../lib/browser.mjs';

const env = useServerAndBrowser({ users: [{ name: 'alice' }] });

/** The token with one character of its payload changed: still well-formed, signature wrong. */
function tamper(token) {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  // One character of the subject's name: the JSON stays valid, the base64url too.
  const name = claims.preferred_username ?? claims.sub;
  const changed = (name[0] === 'x' ? 'y' : 'x') + name.slice(1);
  const json = Buffer.from(payload, 'base64url').toString('utf8').replace(JSON.stringify(name), JSON.stringify(changed));
  assert.notEqual(json, Buffer.from(payload, 'base64url').toString('utf8'));
  return `${header}.${b64u(json)}.${signature}`;
}

/** An HS256 token signed with `secret`. */
function hs256(secret, claims) {
  const header = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64u(JSON.stringify(claims));
  const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${mac}`;
}

async function verify(page, { token, source, key }) {
  await page.fill('#token', token);
  await page.selectOption('#key-source', source);
  if (key !== undefined) await page.fill('#key', key);
  await page.click('#verify');
}

test("a token of this issuer verifies with the issuer's JWKS; tampered, it does not", async (t) => {
  const { access_token: token } = await env.server.login('alice');
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/inspect`);

  await page.fill('#token', token);
  // Decoded as you type, before any verification.
  await expectText(page, '#header', /"alg":\s*"ES256"/);
  await expectText(page, '#payload', /"preferred_username":\s*"alice"|"sub":/);
  await expectText(page, '#times', /expires in/);

  await verify(page, { token, source: 'issuer' });
  assert.match(await expectVerdict(page, 'valid'), /Signature verified/);

  await verify(page, { token: tamper(token), source: 'issuer' });
  assert.match(await expectVerdict(page, 'invalid'), /invalid signature/);
  assertNoProblems(problems);
});

test('an HS256 token verifies with its secret, not with another one', async (t) => {
  const secret = 'e2e secret: at least thirty-two bytes long';
  const now = Math.floor(Date.now() / 1000);
  const token = hs256(secret, { sub: 'e2e', iat: now, exp: now + 600 });
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/inspect`);

  await verify(page, { token, source: 'secret', key: secret });
  assert.match(await expectVerdict(page, 'valid'), /Signature verified/);

  await verify(page, { token, source: 'secret', key: `${secret}!` });
  assert.match(await expectVerdict(page, 'invalid'), /invalid signature/);
  assertNoProblems(problems);
});

test('the inspector names why a token fails: expired, malformed', async (t) => {
  const secret = 'e2e secret: at least thirty-two bytes long';
  const now = Math.floor(Date.now() / 1000);
  const { page, problems } = await env.open(t);
  await page.goto(`${env.server.url}/inspect`);

  await verify(page, { token: hs256(secret, { sub: 'e2e', iat: now - 600, exp: now - 300 }), source: 'secret', key: secret });
  assert.match(await expectVerdict(page, 'invalid'), /expired/);
  await expectText(page, '#times', /expired .*ago/);

  await verify(page, { token: 'not.a-token', source: 'secret', key: secret });
  const verdict = await page.waitForFunction(
    () => ['invalid', 'error'].includes(document.querySelector('#verdict')?.getAttribute('data-verdict')),
  );
  assert.ok(verdict);
  await expectText(page, '#verdict', /malformed token/);
  assertNoProblems(problems);
});
