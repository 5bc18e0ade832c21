// The login page: password sign-in through the cookie session, the outside providers'
// buttons, and the messages of a failed provider sign-in (`?error=CODE`).

import { signIn } from './session.js';
import { el, say, describeError } from './common.js';

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const button = document.getElementById('sign-in');
const errorBox = document.getElementById('login-error');
const statusBox = document.getElementById('login-status');
const providers = document.getElementById('providers');
const providerList = document.getElementById('provider-list');

/** What a person is told after a provider sign-in came back with `?error=CODE`. */
const PROVIDER_ERRORS = {
  provider_error: 'The sign-in provider did not complete the sign-in. Try again, or sign in with a password.',
  state_mismatch: 'The sign-in expired or was started in another window. Please try again.',
  provider_unavailable: 'The sign-in provider could not be reached. Try again in a moment.',
  invalid_id_token: "The sign-in provider's answer could not be verified. Please try again.",
  account_disabled: 'This account is disabled.',
  account_conflict:
    'An account with this name already exists and is not linked to this provider. Sign in with its password instead.',
  not_permitted:
    'This provider does not create new accounts. Sign in with your account, then connect the provider from your account page.',
};

const params = new URLSearchParams(location.search);
const returnTo = safePath(params.get('return_to'));

let countdown = null;

/** A path of this origin (a single leading slash), or null: never send a person elsewhere. */
function safePath(value) {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) {
    return null;
  }
  try {
    const url = new URL(value, location.origin);
    if (url.origin !== location.origin || url.pathname === '/login') return null;
    return url.pathname + url.search + url.hash;
  } catch {
    return null;
  }
}

function waitMessage(seconds) {
  return `Too many attempts. Try again in ${seconds} ${seconds === 1 ? 'second' : 'seconds'}.`;
}

/**
 * Throttled: the button stays disabled while the wait counts down. The alert is announced
 * once; while the counter ticks, the region is muted (`aria-live=off`) so that a screen reader
 * is not interrupted every second.
 */
function throttled(seconds) {
  clearInterval(countdown);
  const until = Date.now() + Math.max(1, seconds) * 1000;
  button.disabled = true;
  errorBox.removeAttribute('aria-live');
  say(errorBox, waitMessage(Math.max(1, seconds)));
  countdown = setInterval(() => {
    const left = Math.ceil((until - Date.now()) / 1000);
    errorBox.setAttribute('aria-live', 'off');
    if (left > 0) {
      errorBox.textContent = waitMessage(left);
      return;
    }
    clearInterval(countdown);
    countdown = null;
    say(errorBox, '');
    errorBox.removeAttribute('aria-live');
    button.disabled = false;
    say(statusBox, 'You can sign in again.');
  }, 1000);
}

function retryAfter(error) {
  if (Number.isFinite(error.retryAfter) && error.retryAfter > 0) return error.retryAfter;
  const m = /(\d+)\s*second/.exec(error.description ?? '');
  return m ? Number(m[1]) : 30;
}

async function submit(event) {
  event.preventDefault();
  if (button.disabled) return;
  say(errorBox, '');
  say(statusBox, '');
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  let stayDisabled = false;
  try {
    await signIn(username.value, password.value);
    stayDisabled = true;
    location.replace(returnTo ?? '/account');
  } catch (error) {
    if (error.status === 429) {
      stayDisabled = true;
      throttled(retryAfter(error));
    } else if (error.status === 401) {
      say(errorBox, 'The username or password is wrong.');
      password.select();
      password.focus();
    } else if (error.code === 'account_disabled') {
      say(errorBox, 'This account is disabled.');
    } else if (error.code === 'csrf_failed') {
      say(errorBox, 'This page has expired. Reload it and try again.');
    } else {
      say(errorBox, describeError(error));
    }
  } finally {
    form.removeAttribute('aria-busy');
    if (!stayDisabled) button.disabled = false;
  }
}

async function showProviders() {
  let list;
  try {
    const response = await fetch('/browser/providers', { headers: { Accept: 'application/json' } });
    if (!response.ok) return;
    list = (await response.json()).providers;
  } catch {
    return;
  }
  if (!Array.isArray(list)) return;
  const items = [];
  for (const provider of list) {
    const start = safePath(provider?.start_url);
    if (!start || typeof provider.name !== 'string') continue;
    const url = new URL(start, location.origin);
    if (returnTo) url.searchParams.set('return_to', returnTo);
    items.push(
      el(
        'li',
        {},
        el(
          'a',
          { class: 'provider button secondary block', href: url.pathname + url.search },
          `Sign in with ${provider.name}`,
        ),
      ),
    );
  }
  providerList.replaceChildren(...items);
  providers.hidden = items.length === 0;
}

function showProviderError() {
  const code = params.get('error');
  if (!code) return;
  say(errorBox, PROVIDER_ERRORS[code] ?? 'The sign-in did not succeed. Please try again.');
  // A reload should not show it again; return_to stays.
  params.delete('error');
  params.delete('error_description');
  const query = params.toString();
  history.replaceState(null, '', location.pathname + (query ? `?${query}` : ''));
}

form.addEventListener('submit', submit);
button.disabled = false;
showProviderError();
showProviders();
