// Small helpers shared by the hosted pages: building DOM nodes without innerHTML (so that no
// value from the server is ever parsed as markup), times, messages, user agents, and the
// two-click confirmation of destructive buttons.

/**
 * `el('td', { class: 'state', dataset: { kid } }, 'active')`: an element with attributes
 * (`class`, `dataset`, `hidden`, anything else as an attribute) and children (nodes or text).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Writes `text` into a message region (`role=alert` or `role=status`); '' empties it. */
export function say(region, text) {
  if (region) region.textContent = text ?? '';
}

/** A sentence for an error thrown by session.js (or a network failure). */
export function describeError(error) {
  if (error && typeof error.status === 'number') {
    if (error.code === 'temporarily_unavailable' || error.status === 503) {
      return 'The server is unavailable right now. Try again in a moment.';
    }
    return sentence(error.description || `The server answered ${error.status}.`);
  }
  return 'The server could not be reached. Check the connection and try again.';
}

/** `text` with a capital first letter and a final full stop. */
export function sentence(text) {
  const t = String(text).trim();
  if (!t) return t;
  const capitalised = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'short',
});
const fullFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'full',
  timeStyle: 'long',
});
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** A UNIX time (seconds) as a short local date and time. */
export function absoluteTime(seconds) {
  return absoluteFormat.format(new Date(seconds * 1000));
}

/** A UNIX time (seconds) relative to now: "3 minutes ago", "in 2 days". */
export function relativeTime(seconds, nowMs = Date.now()) {
  const diff = seconds - nowMs / 1000;
  const abs = Math.abs(diff);
  const steps = [
    [60, 1, 'second'],
    [3600, 60, 'minute'],
    [86400, 3600, 'hour'],
    [86400 * 30, 86400, 'day'],
    [86400 * 365, 86400 * 30, 'month'],
    [Infinity, 86400 * 365, 'year'],
  ];
  for (const [limit, unit, name] of steps) {
    if (abs < limit) {
      if (name === 'second' && abs < 10) return relativeFormat.format(0, 'second');
      return relativeFormat.format(Math.round(diff / unit), name);
    }
  }
  return absoluteTime(seconds);
}

/**
 * A `<time>` showing a UNIX time relative to now with the local date and time beneath it; the
 * full date is in its title. `null` gives "never"/"—".
 */
export function timeNode(seconds, { empty = '—' } = {}) {
  if (seconds === null || seconds === undefined) return el('span', { class: 'muted' }, empty);
  const date = new Date(seconds * 1000);
  return el(
    'time',
    { datetime: date.toISOString(), title: fullFormat.format(date) },
    relativeTime(seconds),
    el('span', { class: 'sub' }, absoluteTime(seconds)),
  );
}

/** A user agent in a few words: "Chrome on Linux", "Firefox on Windows", "curl". */
export function summariseUserAgent(ua) {
  if (!ua) return 'Unknown client';
  const browser =
    match(ua, [
      [/\bEdgA?\//, 'Edge'],
      [/\bOPR\/|\bOpera\b/, 'Opera'],
      [/\bSamsungBrowser\//, 'Samsung Internet'],
      [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
      [/\bHeadlessChrome\//, 'Headless Chrome'],
      [/\bCriOS\/|\bChrome\/|\bChromium\//, 'Chrome'],
      [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
    ]) ?? null;
  const os =
    match(ua, [
      [/\bWindows\b/, 'Windows'],
      [/\biPhone\b|\biPad\b|\biPod\b/, 'iOS'],
      [/\bAndroid\b/, 'Android'],
      [/\bCrOS\b/, 'ChromeOS'],
      [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
      [/\bLinux\b|\bX11\b/, 'Linux'],
    ]) ?? null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  // Not a browser (curl/8.5.0, python-requests/2.31…): its product name.
  const product = ua.split(/[\s/]/)[0];
  return os ? `${product} on ${os}` : product || 'Unknown client';
}

function match(text, rules) {
  for (const [re, name] of rules) if (re.test(text)) return name;
  return undefined;
}

/**
 * Makes a destructive button ask for a second click: the first click turns it into "Click
 * again to confirm" for a few seconds; the second runs `action`. Leaving the button (blur,
 * Escape) or waiting cancels. Returns a function that resets the button.
 */
export function confirmingButton(button, action, { timeoutMs = 5000 } = {}) {
  const label = button.textContent;
  let pending = null;
  const reset = () => {
    clearTimeout(pending);
    pending = null;
    button.textContent = label;
    button.classList.remove('confirming');
  };
  button.addEventListener('click', async () => {
    if (pending === null) {
      button.textContent = 'Click again to confirm';
      button.classList.add('confirming');
      pending = setTimeout(reset, timeoutMs);
      return;
    }
    reset();
    await action();
  });
  button.addEventListener('blur', () => {
    if (pending !== null) reset();
  });
  button.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && pending !== null) reset();
  });
  return reset;
}

/** Runs `task` with `button` disabled (and the form busy), enabling it again afterwards. */
export async function busy(button, task) {
  const wasDisabled = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await task();
  } finally {
    button.removeAttribute('aria-busy');
    button.disabled = wasDisabled;
  }
}

/** Splits "a, b  c" into ["a", "b", "c"] (commas or spaces), without empty or repeated items. */
export function splitList(text) {
  return [...new Set(String(text).split(/[\s,]+/).filter(Boolean))];
}

/**
 * Every item of a paged list (`GET path` answers `{[key]: [...], next_cursor?}`), following
 * `next_cursor` with `limit=200`, through `api` (session.api). Stops after `maxPages` pages
 * (then `truncated` is true) so that a huge list cannot hang the page.
 */
export async function allPages(api, path, key, { maxPages = 50 } = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const query = `limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await api(`${path}?${query}`);
    items.push(...(answer[key] || []));
    cursor = answer.next_cursor;
    if (!cursor) return { items, truncated: false };
  }
  return { items, truncated: true };
}
