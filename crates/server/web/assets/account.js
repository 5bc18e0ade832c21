// The account page: who is signed in, the current access token (its claims and a countdown to
// its expiry), a check of the token with the server, this account's sessions, its sign-in
// methods (the outside accounts connected to it: connect one, disconnect one, and what came of
// a connection when the provider sends the browser back with `?link=CODE`), and signing out.

import * as session from './session.js';
import {
  el,
  say,
  describeError,
  timeNode,
  summariseUserAgent,
  busy,
  allPages,
  confirmingButton,
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
const identitiesCard = document.getElementById('identities-card');
const identitiesBody = document.querySelector('#identities tbody');
const identitiesError = document.getElementById('identities-error');
const identitiesStatus = document.getElementById('identities-status');
const reauthBox = document.getElementById('reauth');
const reauthButton = document.getElementById('reauth-sign-in');
const connectBox = document.getElementById('connect');
const connectProviders = document.getElementById('connect-providers');

/**
 * What a person is told when the provider's trip ends back here with `?link=CODE`. The value of
 * the query is only ever a key of this table: it is never written into the page.
 */
const LINK_OUTCOMES = {
  provider_error: 'The provider did not complete the connection. Nothing was connected; please try again.',
  state_mismatch: 'The connection expired or was started in another window. Nothing was connected; please try again.',
  provider_unavailable: 'The provider could not be reached. Nothing was connected; try again in a moment.',
  invalid_id_token: "The provider's answer could not be verified. Nothing was connected; please try again.",
  identity_in_use:
    'That account at the provider is already connected to another tessera account, so it was not connected to this one.',
  session_ended: 'Your session ended before the provider answered, so nothing was connected. Please try again.',
  too_many_identities:
    'This account already has as many connected accounts as it may have. Disconnect one, then try again.',
  account_disabled: 'This account is disabled.',
};
const LINKED = 'The account was connected. You can now sign in with it.';
const LINK_FAILED = 'The account could not be connected. Please try again.';

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

// ---- connected accounts (sign-in methods) -----------------------------------------------------

/** Set while the window is on its way to a provider: no second connection may start. */
let leaving = false;
/** How long a started navigation to a provider holds the connect buttons, ms. */
const LEAVING_MS = 10_000;
/** Counts the loads of the list, so that only the latest one renders. */
let identitiesLoad = 0;

/** The card's final-state marker: `loading`, then `loaded` (with `data-count`) or `error`. */
function setIdentitiesState(state, count) {
  identitiesCard.dataset.state = state;
  identitiesCard.setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
  if (count === undefined) delete identitiesCard.dataset.count;
  else identitiesCard.dataset.count = String(count);
}

async function loadIdentities() {
  const load = ++identitiesLoad;
  setIdentitiesState('loading');
  let answer;
  try {
    answer = await session.api('/account/identities');
  } catch (error) {
    if (load !== identitiesLoad) return;
    identitiesBody.replaceChildren(
      el('tr', {}, el('td', { class: 'empty', colspan: 5 }, 'The connected accounts could not be loaded.')),
    );
    connectBox.hidden = true;
    // A server without this API (404) has nothing more to say; anything else is worth a word.
    if (error?.status !== 404) say(identitiesError, describeError(error));
    setIdentitiesState('error');
    return;
  }
  if (load !== identitiesLoad) return;
  const identities = Array.isArray(answer?.identities) ? answer.identities : [];
  const providers = Array.isArray(answer?.providers) ? answer.providers : [];
  renderIdentities(identities);
  renderProviders(providers);
  setIdentitiesState('loaded', identities.length);
}

function renderIdentities(identities) {
  if (identities.length === 0) {
    identitiesBody.replaceChildren(
      el('tr', {}, el('td', { class: 'empty', colspan: 5 }, 'No account is connected.')),
    );
    return;
  }
  identitiesBody.replaceChildren(...identities.map(identityRow));
}

function identityRow(identity) {
  const id = String(identity.id);
  const nameId = `identity-${id}`;
  const configured = typeof identity.provider === 'string' && identity.provider !== '';
  const name = configured ? identity.provider : String(identity.issuer ?? 'Unknown provider');
  const button = el(
    'button',
    {
      class: 'disconnect-identity danger small',
      type: 'button',
      'aria-describedby': nameId,
    },
    'Disconnect',
  );
  let why = null;
  if (identity.removable === false) {
    const whyId = `identity-why-${id}`;
    button.disabled = true;
    button.setAttribute('aria-describedby', `${nameId} ${whyId}`);
    why = el(
      'span',
      { id: whyId, class: 'sub why-not-removable' },
      'It is the only way to sign in to this account, so it cannot be disconnected.',
    );
  } else {
    confirmingButton(button, () => busy(button, () => disconnect(identity, name)));
  }
  return el(
    'tr',
    { dataset: { identityId: id, provider: configured ? identity.provider : '' } },
    el(
      'td',
      { 'data-label': 'Provider' },
      el(
        'div',
        {},
        el('span', { id: nameId, class: configured ? undefined : 'mono' }, name),
        configured ? null : el('span', { class: 'sub' }, 'This provider is no longer configured.'),
      ),
    ),
    el(
      'td',
      { 'data-label': 'E-mail', class: 'identity-email' },
      typeof identity.email === 'string' && identity.email !== ''
        ? identity.email
        : el('span', { class: 'muted' }, '—'),
    ),
    el('td', { 'data-label': 'Connected' }, timeNode(identity.created_at)),
    el('td', { 'data-label': 'Last used' }, timeNode(identity.last_login_at, { empty: 'never' })),
    el('td', { 'data-label': 'Actions', class: 'actions-cell' }, el('div', {}, button, why)),
  );
}

function renderProviders(providers) {
  const buttons = [];
  for (const provider of providers) {
    if (typeof provider?.name !== 'string' || provider.name === '') continue;
    const button = el(
      'button',
      { class: 'connect-provider secondary', type: 'button', dataset: { provider: provider.name } },
      `Connect ${provider.name}`,
    );
    button.addEventListener('click', () => {
      if (!leaving) busy(button, () => connect(provider.name));
    });
    buttons.push(button);
  }
  connectProviders.replaceChildren(...buttons);
  connectBox.hidden = buttons.length === 0;
}

/** Starts a connection: the server answers with the provider's URL, where the window goes. */
async function connect(name) {
  say(identitiesError, '');
  say(identitiesStatus, '');
  reauthBox.hidden = true;
  let answer;
  try {
    answer = await session.api('/account/identities', { method: 'POST', body: { provider: name } });
  } catch (error) {
    connectFailed(error);
    return;
  }
  const target = providerUrl(answer?.authorization_url);
  if (!target) {
    say(identitiesError, LINK_FAILED);
    return;
  }
  // A second click meanwhile would start a second connection, whose cookie replaces this one's
  // (this one would then fail). Should the navigation be stopped, the buttons work again.
  leaving = true;
  setTimeout(() => {
    leaving = false;
  }, LEAVING_MS);
  say(identitiesStatus, `Going to ${name}…`);
  location.assign(target);
}

/** An absolute http(s) URL, or null (never a `javascript:` URL or the like). */
function providerUrl(value) {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function connectFailed(error) {
  switch (error?.code) {
    case 'reauthentication_required':
      say(
        identitiesError,
        'For your safety, connecting an account needs a recent sign-in. Sign out, sign in again, then connect it from this page.',
      );
      reauthBox.hidden = false;
      reauthButton.focus();
      return;
    case 'too_many_identities':
      say(identitiesError, LINK_OUTCOMES.too_many_identities);
      return;
    case 'provider_unavailable':
      say(identitiesError, LINK_OUTCOMES.provider_unavailable);
      return;
    case 'invalid_request':
      say(identitiesError, 'This provider cannot be connected any more. Reload the page to see the current list.');
      return;
    default:
      say(identitiesError, describeError(error));
  }
}

async function disconnect(identity, name) {
  say(identitiesError, '');
  say(identitiesStatus, '');
  try {
    await session.api(`/account/identities/${encodeURIComponent(String(identity.id))}`, { method: 'DELETE' });
    say(identitiesStatus, `Disconnected ${name}${identity.email ? ` (${identity.email})` : ''}.`);
  } catch (error) {
    if (error?.code === 'last_sign_in_method') {
      say(identitiesError, 'It is the only way left to sign in to this account, so it was not disconnected.');
    } else if (error?.status === 404) {
      say(identitiesError, 'That account was already disconnected.');
    } else {
      say(identitiesError, describeError(error));
    }
  }
  await loadIdentities();
}

/**
 * `?link=CODE`, left by the provider's trip: says what came of it, then takes it out of the
 * address bar (a reload should not say it again).
 */
function showLinkOutcome() {
  const params = new URLSearchParams(location.search);
  if (!params.has('link')) return;
  const code = params.get('link');
  if (code === 'linked') {
    say(identitiesStatus, LINKED);
  } else {
    say(identitiesError, Object.hasOwn(LINK_OUTCOMES, code) ? LINK_OUTCOMES[code] : LINK_FAILED);
  }
  params.delete('link');
  const query = params.toString();
  history.replaceState(history.state, '', location.pathname + (query ? `?${query}` : '') + location.hash);
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
  // Signing out ends this session; the login page brings the person back here afterwards.
  reauthButton.addEventListener('click', () => busy(reauthButton, () => session.signOut()));
  // Back here through the browser's history (the provider's page, then Back): the list may
  // have changed, and a new connection may start.
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    leaving = false;
    say(identitiesStatus, '');
    loadIdentities();
  });
  showLinkOutcome();
  await Promise.all([loadWho(), loadSessions(), loadIdentities()]);
}

main();
