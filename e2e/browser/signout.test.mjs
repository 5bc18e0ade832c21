// Signing out: this browser's session, or every session of the user at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertNoProblems, expectText, signIn, useServerAndBrowser } from '../lib/browser.mjs';
import { PASSWORD } from '../lib/server.mjs';

const env = useServerAndBrowser({ users: [{ name: 'alice' }, { name: 'bruno' }, { name: 'carmen' }] });

/** From inside the page: a refresh as session.js makes it; resolves with the HTTP status. */
function refreshFromPage(page) {
  return page.evaluate(async () => {
    const csrf = document.cookie
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith('tessera_csrf='))
      ?.slice('tessera_csrf='.length);
    const res = await fetch('/browser/session/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf ?? '' },
    });
    return res.status;
  });
}

test('"Sign out everywhere" in one browser ends the session of another browser', async (t) => {
  const a = await env.open(t);
  const b = await env.open(t);
  await signIn(a.page, env.server.url, 'alice', PASSWORD);
  await signIn(b.page, env.server.url, 'alice', PASSWORD);
  // Both sessions are listed on A's account page.
  await a.page.reload();
  await a.page.waitForFunction(() => document.querySelectorAll('#sessions tr[data-session-id]').length >= 2);
  assert.equal(await refreshFromPage(b.page), 200, 'B could not refresh before the sign-out');

  await a.page.click('#sign-out-everywhere');
  await a.page.waitForURL((url) => url.pathname === '/login');

  assert.equal(await refreshFromPage(b.page), 401, "B's refresh still works after sign-out everywhere");
  await b.page.goto(`${env.server.url}/account`);
  await b.page.waitForURL((url) => url.pathname === '/login');

  // None of alice's sessions is left: a new login is her only one.
  const { access_token: token } = await env.server.login('alice');
  const res = await env.server.fetch('/sessions', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const { sessions } = await res.json();
  assert.equal(sessions.length, 1, `sessions left: ${JSON.stringify(sessions)}`);
  assert.equal(sessions[0].current, true);
  assertNoProblems(a.problems);
  assertNoProblems(b.problems);
});

test('"Sign out" ends this browser\'s session only', async (t) => {
  const a = await env.open(t);
  const b = await env.open(t);
  await signIn(a.page, env.server.url, 'bruno', PASSWORD);
  await signIn(b.page, env.server.url, 'bruno', PASSWORD);

  await a.page.click('#sign-out');
  await a.page.waitForURL((url) => url.pathname === '/login');
  const cookies = await a.context.cookies(env.server.url);
  assert.ok(!cookies.some((c) => c.name === 'tessera_refresh'), 'the refresh cookie survived the sign-out');
  await a.page.goto(`${env.server.url}/account`);
  await a.page.waitForURL((url) => url.pathname === '/login');

  await b.page.reload();
  await b.page.waitForURL((url) => url.pathname === '/account');
  await expectText(b.page, '#who', /\bbruno\b/);
  assertNoProblems(a.problems);
  assertNoProblems(b.problems);
});

test('"Sign out this session" on another session\'s row ends that browser\'s session', async (t) => {
  const a = await env.open(t);
  const b = await env.open(t);
  await signIn(b.page, env.server.url, 'carmen', PASSWORD);
  await signIn(a.page, env.server.url, 'carmen', PASSWORD);
  await a.page.waitForFunction(() => document.querySelectorAll('#sessions tr[data-session-id]').length === 2);
  // The current session is marked "this session" (an element saying just that, not the
  // "Sign out this session" button every row has).
  const rows = await a.page.$$eval('#sessions tr[data-session-id]', (trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-session-id'),
      marked: [...tr.querySelectorAll(':not(button)')].some(
        (e) => e.children.length === 0 && e.textContent.trim().toLowerCase() === 'this session',
      ),
    })),
  );
  const mine = rows.filter((r) => r.marked);
  assert.equal(mine.length, 1, `exactly one row is "this session": ${JSON.stringify(rows)}`);
  const current = mine[0].id;
  const other = rows.find((r) => r.id !== current);

  await a.page.click(`#sessions tr[data-session-id="${other.id}"] button.sign-out-session`);
  await a.page.waitForFunction(
    (id) => !document.querySelector(`#sessions tr[data-session-id="${id}"]`),
    other.id,
  );
  assert.equal(await a.page.locator('#sessions tr[data-session-id]').count(), 1);
  assert.equal(new URL(a.page.url()).pathname, '/account', 'A left its page');

  assert.equal(await refreshFromPage(b.page), 401, "B's refresh still works after its session was signed out");
  assertNoProblems(a.problems);
  assertNoProblems(b.problems);
});
