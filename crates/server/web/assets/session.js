// The browser session of tessera's hosted pages.
//
// The access token lives only in this module's memory: never in localStorage, sessionStorage
// or a cookie. The refresh token is an HttpOnly cookie (scoped to /browser/session) that no
// script can read; this module asks the server to rotate it (POST /browser/session/refresh,
// with the CSRF token of the readable CSRF cookie in X-CSRF-Token) and gets a fresh
// access token back. Refreshes are serialised across the tabs of this origin with the Web
// Locks API, so that two tabs do not rotate the same cookie at once.

const REFRESH_PATH = '/browser/session/refresh';
const SESSION_PATH = '/browser/session';
// The CSRF cookie: `__Host-tessera_csrf` where the issuer is https (a sibling subdomain cannot
// plant it), plain `tessera_csrf` on a loopback http issuer. Only the first name found in
// this order is used; the server reads only the one in force for it.
const CSRF_COOKIES = ['__Host-tessera_csrf', 'tessera_csrf'];
const LOCK_NAME = 'tessera-refresh';
// setTimeout's largest delay (about 24.8 days).
const MAX_DELAY_MS = 2 ** 31 - 1;

let token = null;
let payload = null;
let expiresAtMs = 0; // ms since the epoch, by this browser's clock (not the server's)
let timer = null;
let loginRequired = false;
let inFlight = null;
const listeners = new Set();

/** The CSRF token: the value of the CSRF cookie, or '' without one. */
export function csrfToken() {
  const found = new Map();
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (CSRF_COOKIES.includes(name) && !found.has(name)) {
      found.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    }
  }
  for (const name of CSRF_COOKIES) {
    if (found.has(name)) return found.get(name);
  }
  return '';
}

/** The current access token, or null without a session. */
export function accessToken() {
  return token;
}

/** The decoded payload of the current access token (not verified here: the server does), or null. */
export function claims() {
  return payload;
}

/** When the current access token expires, in milliseconds by this browser's clock (0 without one). */
export function expiresAt() {
  return expiresAtMs;
}

/** Calls `cb(token)` after each refresh (`token` is null when the session ended). */
export function onChange(cb) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/**
 * Starts the session: a silent refresh from the cookie. Resolves with the access token, or
 * null without a session. With `required`, a person without a session is sent to the login
 * page (and the promise never resolves, since the page is going away).
 */
export async function start({ required = false } = {}) {
  loginRequired = required;
  document.addEventListener('visibilitychange', refreshIfStale);
  const fresh = await refresh();
  if (!fresh && required) {
    toLogin();
    return new Promise(() => {});
  }
  return fresh;
}

/**
 * Signs in with a username and password (POST /browser/session). Resolves with the claims of
 * the new access token; rejects with an Error carrying `.status`, `.code`, `.description` and,
 * for 429, `.retryAfter` (seconds).
 */
export async function signIn(username, password) {
  const response = await fetch(SESSION_PATH, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/json',
      'X-CSRF-Token': csrfToken(),
    },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await apiError(response);
  accept(await response.json());
  return payload;
}

/** Signs out this browser's session (DELETE /browser/session), then goes to the login page. */
export async function signOut() {
  try {
    await fetch(SESSION_PATH, {
      method: 'DELETE',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrfToken() },
    });
  } finally {
    forget();
    location.replace('/login');
  }
}

/**
 * Calls a Bearer-protected JSON API of this origin. Resolves with the parsed body (null for an
 * empty one); rejects with an Error carrying `.status`, `.code` and `.description`. A 401
 * `invalid_token` (the token expired while the computer slept, say) refreshes the session and
 * tries once more, unless `retry` is false.
 */
export async function api(path, { method = 'GET', body, retry = true } = {}) {
  let response = await send(path, method, body);
  if (response.status === 401 && retry && token) {
    const error = await apiError(response.clone());
    if (error.code === 'invalid_token' && (await refresh())) {
      response = await send(path, method, body);
    }
  }
  if (!response.ok) throw await apiError(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

function send(path, method, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

/** An Error from a non-2xx answer in tessera's format `{"error","error_description"}`. */
async function apiError(response) {
  let code = `http_${response.status}`;
  let description = response.statusText || `the server answered ${response.status}`;
  try {
    const body = await response.json();
    if (body && typeof body.error === 'string') code = body.error;
    if (body && typeof body.error_description === 'string') description = body.error_description;
  } catch {
    // Not JSON: keep the status.
  }
  const error = new Error(description);
  error.status = response.status;
  error.code = code;
  error.description = description;
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  if (Number.isFinite(retryAfter)) error.retryAfter = retryAfter;
  return error;
}

/**
 * Rotates the refresh cookie and takes the new access token. Resolves with the token, or null
 * when there is no (longer a) session. Concurrent calls in this tab share one request; tabs
 * take turns through the lock.
 */
function refresh() {
  if (!inFlight) {
    inFlight = withLock(refreshOnce).finally(() => {
      inFlight = null;
    });
  }
  return inFlight;
}

function withLock(task) {
  if (navigator.locks && typeof navigator.locks.request === 'function') {
    return navigator.locks.request(LOCK_NAME, task);
  }
  return task();
}

async function refreshOnce() {
  let response = await postRefresh();
  if (response.status === 401) {
    // Another tab may have rotated the cookie between our read and the server's: once more.
    response = await postRefresh();
  }
  if (response.ok) {
    accept(await response.json());
    return token;
  }
  if (response.status === 401) {
    sessionEnded();
    return null;
  }
  throw await apiError(response);
}

function postRefresh() {
  return fetch(REFRESH_PATH, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrfToken() },
  });
}

function accept(body) {
  token = body.access_token;
  payload = decodePayload(token);
  const expiresIn = Number(body.expires_in) || 0;
  expiresAtMs = Date.now() + expiresIn * 1000;
  schedule(expiresIn);
  notify();
}

/** The next refresh at 80% of the lifetime, and at least one second before expiry. */
function schedule(expiresIn) {
  clearTimeout(timer);
  const seconds = Math.max(0, Math.min(expiresIn * 0.8, expiresIn - 1));
  timer = setTimeout(scheduledRefresh, Math.min(seconds * 1000, MAX_DELAY_MS));
}

async function scheduledRefresh() {
  try {
    await refresh();
  } catch {
    // The server is away (503, network): try again shortly while the token may still be good.
    clearTimeout(timer);
    timer = setTimeout(scheduledRefresh, 5000);
  }
}

/** A tab that slept past its refresh (timers are throttled in the background) catches up. */
function refreshIfStale() {
  if (document.visibilityState === 'visible' && token && Date.now() > expiresAtMs - 1000) {
    scheduledRefresh();
  }
}

function sessionEnded() {
  const had = token !== null;
  forget();
  if (had) notify();
  if (had && loginRequired) toLogin();
}

function forget() {
  clearTimeout(timer);
  timer = null;
  token = null;
  payload = null;
  expiresAtMs = 0;
}

function notify() {
  for (const cb of listeners) {
    try {
      cb(token);
    } catch (e) {
      console.error(e);
    }
  }
}

function toLogin() {
  location.replace(`/login?return_to=${encodeURIComponent(location.pathname + location.search)}`);
}

function decodePayload(jwt) {
  try {
    const part = jwt.split('.')[1];
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}
