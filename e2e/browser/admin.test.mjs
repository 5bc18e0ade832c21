// The admin page: key rotation shows at once in the page and in the published JWKS; users
// can be added and disabled; people without the admin role are turned away.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertNoProblems, expectText, expectVisible, signIn, useServerAndBrowser } from '../lib/browser.mjs';
import { PASSWORD } from '../lib/server.mjs';

const env = useServerAndBrowser({ users: [{ name: 'root', roles: ['admin'] }, { name: 'bob' }] });

function keyRows(page) {
  return page.$$eval('tr[data-kid]', (rows) =>
    rows.map((row) => ({ kid: row.getAttribute('data-kid'), state: row.querySelector('td.state')?.textContent.trim() })),
  );
}

test('an admin rotates the keys: a new `next` key appears in the table and in the JWKS', async (t) => {
  const { page, problems } = await env.open(t);
  await signIn(page, env.server.url, 'root', PASSWORD);
  await expectVisible(page, '#admin-link');
  await page.click('#admin-link');
  await page.waitForURL((url) => url.pathname === '/admin');
  await page.waitForSelector('tr[data-kid]');
  const before = await keyRows(page);
  assert.ok(before.some((k) => k.state === 'active'), `no active key listed: ${JSON.stringify(before)}`);

  await page.click('#rotate');
  await page.waitForFunction((n) => document.querySelectorAll('tr[data-kid]').length > n, before.length);
  const after = await keyRows(page);
  const added = after.filter((k) => !before.some((b) => b.kid === k.kid));
  assert.equal(added.length, 1, `keys after the rotation: ${JSON.stringify(after)}`);
  assert.equal(added[0].state, 'next');

  const jwks = await env.server.jwks();
  assert.ok(
    jwks.keys.some((k) => k.kid === added[0].kid),
    `the JWKS does not publish the new key ${added[0].kid}: ${jwks.keys.map((k) => k.kid).join(', ')}`,
  );
  assertNoProblems(problems);
});

test('an admin adds a user, who can sign in, then disables them', async (t) => {
  const { page, problems } = await env.open(t);
  await signIn(page, env.server.url, 'root', PASSWORD);
  await page.goto(`${env.server.url}/admin`);
  await page.waitForSelector('tr[data-username="root"]');

  await page.fill('#new-username', 'carol');
  await page.fill('#new-password', 'carol password 1');
  await page.fill('#new-roles', 'reader, writer');
  await page.click('#add-user-form button[type="submit"], #add-user-form button:not([type])');
  await page.waitForSelector('tr[data-username="carol"]');
  await expectText(page, 'tr[data-username="carol"]', /reader/);
  await env.server.login('carol', 'carol password 1');

  // Disabling asks for a second click.
  const toggle = 'tr[data-username="carol"] button.toggle-disabled';
  await page.click(toggle);
  await expectText(page, toggle, /confirm/i);
  await page.click(toggle);
  await expectText(page, 'tr[data-username="carol"] button.toggle-disabled', /Enable/);
  await assert.rejects(env.server.login('carol', 'carol password 1'), /401/);
  assertNoProblems(problems);
});

test('a user without the admin role sees #admin-denied', async (t) => {
  const { page, problems } = await env.open(t);
  await signIn(page, env.server.url, 'bob', PASSWORD);
  assert.equal(await page.isVisible('#admin-link'), false, 'the admin link is shown to a non-admin');
  await page.goto(`${env.server.url}/admin`);
  await expectVisible(page, '#admin-denied');
  assert.equal(await page.locator('tr[data-username]').count(), 0, 'a non-admin sees the users');
  assertNoProblems(problems);
});
