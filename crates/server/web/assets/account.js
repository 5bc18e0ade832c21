// The account page: who is signed in, the current access token (its claims and a countdown to
// its expiry), a check of the token with the server, this account's sessions, and signing out.

import * as session from './session.js';
import {
  el,
  say,
  describeError,
  timeNode,
  summariseUserAgent,
  busy,
  allPages,
} from './common.js';

const who = document.getElementById('who');
const adminLink = document.getElementById('admin-link');
const claimsBox = document.getElementById('claims');
const expiresIn = document.getElementById('expires-in');
const checkButton = document.getElementById('check');
const checkResult = document.getElementById('check-result');
const signOutButton = document.getElementById('sign-out');
const everywhereButton = document.getElementById('sign-out-everywhere');
const sessionsBody = document.querySelector('#sessions tbody');
const errorBox = document.getElementById('account-error');
const statusBox = document.getElementById('account-status');

function showToken() {
  const claims = session.claims();
  claimsBox.textContent = claims ? JSON.stringify(claims, null, 2) : '';
  if (claims && Number.isFinite(claims.exp)) expiresIn.dataset.exp = String(claims.exp);
  const roles = Array.isArray(claims?.roles) ? claims.roles : [];
  adminLink.hidden = !roles.includes('admin');
  if (who.classList.contains('loading') && typeof claims?.preferred_username === 'string') {
    setWho(claims.preferred_username);
  }
  tick();
}

/** "expires in 42 s", by this browser's clock (the token's lifetime as the server gave it). */
function tick() {
  const at = session.expiresAt();
  if (!at) {
    expiresIn.textContent = 'no token';
    return;
  }
  const left = Math.round((at - Date.now()) / 1000);
  if (left >= 0) {
    const minutes = Math.round(left / 60);
    expiresIn.textContent = left >= 120 ? `expires in ${left} s (${minutes} min)` : `expires in ${left} s`;
  } else {
    expiresIn.textContent = `expired ${-left} s ago`;
  }
}

function setWho(name) {
  who.classList.remove('loading');
  who.textContent = name;
}

async function loadWho() {
  try {
    const info = await session.api('/userinfo');
    setWho(info.preferred_username ?? info.sub);
  } catch (error) {
    say(errorBox, describeError(error));
  }
}

async function check() {
  say(checkResult, 'checking…');
  checkResult.removeAttribute('data-result');
  try {
    // The token as it is in memory now: no refresh and retry on 401.
    const info = await session.api('/userinfo', { retry: false });
    checkResult.dataset.result = 'valid';
    checkResult.className = 'badge good';
    say(checkResult, `valid — the server knows you as ${info.preferred_username}`);
  } catch (error) {
    checkResult.dataset.result = 'invalid';
    checkResult.className = 'badge bad';
    const reason = typeof error.status === 'number' ? `${error.code}: ${error.description}` : describeError(error);
    say(checkResult, `rejected — ${reason}`);
  }
}

async function loadSessions() {
  try {
    const { items: sessions } = await allPages(session.api, '/sessions', 'sessions');
    renderSessions(sessions);
  } catch (error) {
    sessionsBody.replaceChildren(
      el('tr', {}, el('td', { class: 'empty', colspan: 5 }, 'The sessions could not be loaded.')),
    );
    say(errorBox, describeError(error));
  }
}

function renderSessions(sessions) {
  if (!Array.isArray(sessions) || sessions.length === 0) {
    sessionsBody.replaceChildren(
      el('tr', {}, el('td', { class: 'empty', colspan: 5 }, 'No active sessions.')),
    );
    return;
  }
  sessionsBody.replaceChildren(...sessions.map(sessionRow));
}

function sessionRow(s) {
  const device = summariseUserAgent(s.user_agent);
  const deviceId = `device-${s.id}`;
  const button = el(
    'button',
    {
      class: 'sign-out-session secondary small',
      type: 'button',
      'aria-describedby': deviceId,
    },
    'Sign out this session',
  );
  button.addEventListener('click', () => busy(button, () => signOutSession(s, device)));
  return el(
    'tr',
    { class: s.current ? 'current' : undefined, dataset: { sessionId: s.id } },
    el(
      'td',
      { 'data-label': 'Device' },
      el(
        'div',
        {},
        el('span', { id: deviceId, title: s.user_agent || 'no user agent sent' }, device),
        s.current ? [' ', el('span', { class: 'badge' }, 'this session')] : null,
        s.client_id ? el('span', { class: 'sub' }, `client ${s.client_id}`) : null,
      ),
    ),
    el('td', { 'data-label': 'Created' }, timeNode(s.created_at)),
    el('td', { 'data-label': 'Last used' }, timeNode(s.last_used_at, { empty: 'never' })),
    el('td', { 'data-label': 'Client address', class: 'mono' }, s.client_address || '—'),
    el('td', { 'data-label': 'Actions', class: 'actions-cell' }, button),
  );
}

async function signOutSession(s, device) {
  say(errorBox, '');
  if (s.current) {
    await session.signOut();
    return;
  }
  try {
    await session.api(`/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
    say(statusBox, `Signed out the session of ${device}.`);
  } catch (error) {
    say(errorBox, describeError(error));
  }
  await loadSessions();
}

async function signOutEverywhere() {
  say(errorBox, '');
  try {
    await session.api('/sessions', { method: 'DELETE' });
  } catch (error) {
    say(errorBox, describeError(error));
    return;
  }
  await session.signOut();
}

async function main() {
  let token;
  try {
    token = await session.start({ required: true });
  } catch (error) {
    say(errorBox, `${describeError(error)} Reload the page to try again.`);
    return;
  }
  if (!token) return;
  session.onChange(showToken);
  showToken();
  setInterval(tick, 1000);
  checkButton.addEventListener('click', () => busy(checkButton, check));
  signOutButton.addEventListener('click', () => busy(signOutButton, () => session.signOut()));
  everywhereButton.addEventListener('click', () => busy(everywhereButton, signOutEverywhere));
  await Promise.all([loadWho(), loadSessions()]);
}

main();
