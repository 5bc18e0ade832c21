// The token inspector (inspect.html): decodes the token as it is typed and verifies it on
// "Verify", all in this page with WebCrypto (jwt-verify.js). Nothing is sent anywhere, except
// the GET of this issuer's public JWKS when that is the key source. Everything shown is
// written with textContent: no token, key or claim is ever parsed as markup.

import { el } from './common.js';
import { decode, describeTimes, verify } from './jwt-verify.js';

const $ = (id) => document.getElementById(id);

const form = $('verify-form');
const tokenInput = $('token');
const decodeError = $('decode-error');
const keySource = $('key-source');
const keyField = $('key-field');
const keyInput = $('key');
const keyHint = $('key-hint');
const encodingField = $('secret-encoding-field');
const encodingInput = $('secret-encoding');
const verifyButton = $('verify');
const verdict = $('verdict');
const verdictDetail = $('verdict-detail');
const keyWarning = $('key-warning');
const headerOut = $('header');
const payloadOut = $('payload');
const payloadNote = $('payload-note');
const timesOut = $('times');

const KEY_HINTS = {
  jwk:
    'Paste a public JWK, or a JWK Set ({"keys": [...]}). A key with "alg" verifies only that ' +
    "algorithm; the token's kid picks among a set's keys.",
  secret:
    'The shared secret of HS256, HS384 and HS512 tokens, used exactly as typed (line breaks at ' +
    'the end aside). It never leaves this page.',
};

/** The last token decoded, or null. */
let decoded = null;
/** Counts verifications, so that a result arriving after the input changed is dropped. */
let generation = 0;

const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------
// Decoding as you type
// ---------------------------------------------------------------------------------------

function showDecoded() {
  const token = tokenInput.value.trim();
  decoded = null;
  decodeError.textContent = '';
  headerOut.textContent = '';
  payloadOut.textContent = '';
  payloadNote.hidden = true;
  payloadNote.textContent = '';
  if (token !== '') {
    try {
      decoded = decode(token);
    } catch (e) {
      decodeError.textContent = e.message;
    }
  }
  if (decoded) {
    headerOut.textContent = JSON.stringify(decoded.header, null, 2);
    if (decoded.payloadKind === 'text') {
      payloadOut.textContent = decoded.payload;
      payloadNote.textContent = decoded.claimsError
        ? `Not strict JSON (${decoded.claimsError}): shown as text.`
        : 'Not JSON: shown as text.';
      payloadNote.hidden = false;
    } else {
      payloadOut.textContent = JSON.stringify(decoded.payload, null, 2);
      if (decoded.payloadKind === 'json') {
        payloadNote.textContent = 'JSON, but not a claims set (an object): no claim applies.';
        payloadNote.hidden = false;
      }
    }
  }
  showTimes();
}

/** A UNIX time as a local date and time, to the second. */
function localTime(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'medium',
  });
}

function timeItem(item) {
  const li = el('li', { dataset: { claim: item.claim, state: item.state } });
  li.append(el('span', { class: 'claim' }, item.claim), ' ');
  if (item.date !== null) {
    li.append(
      el('time', { datetime: item.date, title: item.date }, localTime(item.value)),
      ' ',
      el('span', { class: 'relative' }, `(${item.text})`),
    );
  } else if (item.value === null) {
    li.append(el('span', { class: 'relative' }, item.text));
  } else {
    li.append(
      el('code', {}, JSON.stringify(item.value)),
      ' ',
      el('span', { class: 'relative' }, `(${item.text})`),
    );
  }
  return li;
}

/**
 * Renders #times. Called every second: when the same claims are shown, only the relative texts
 * change in place (a selection or a screen reader's position survives the tick).
 */
function showTimes() {
  const claims = decoded !== null && decoded.payloadKind === 'claims';
  const items = claims ? describeTimes(decoded.payload, nowSeconds()) : [];
  const shape = decoded === null ? '' : claims ? JSON.stringify(items.map((i) => [i.claim, i.value])) : 'no claims';
  if (timesOut.dataset.shape === shape) {
    items.forEach((item, i) => {
      const li = timesOut.children[i];
      const relative = li.querySelector('.relative');
      const text = item.date !== null || item.value !== null ? `(${item.text})` : item.text;
      if (relative && relative.textContent !== text) relative.textContent = text;
      if (li.dataset.state !== item.state) li.dataset.state = item.state;
    });
    return;
  }
  timesOut.dataset.shape = shape;
  timesOut.replaceChildren(...items.map(timeItem));
  if (decoded !== null && !claims) {
    timesOut.append(el('li', { class: 'muted' }, 'No times: the payload is not a JSON claims set.'));
  }
}

// ---------------------------------------------------------------------------------------
// Key source
// ---------------------------------------------------------------------------------------

function showKeySource() {
  const kind = keySource.value;
  keyField.hidden = kind === 'issuer';
  encodingField.hidden = kind !== 'secret';
  keyHint.textContent = KEY_HINTS[kind] ?? '';
}

function currentKeySource() {
  switch (keySource.value) {
    case 'jwk':
      return { kind: 'jwk', text: keyInput.value };
    case 'secret':
      return {
        kind: 'secret',
        // A secret pasted from a file often ends with a line break that is not part of it.
        text: keyInput.value.replace(/[\r\n]+$/, ''),
        encoding: encodingInput.checked ? 'base64url' : 'utf-8',
      };
    default:
      return { kind: 'issuer' };
  }
}

// ---------------------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------------------

/** Forgets the verdict: it was about another token or key. */
function clearVerdict() {
  generation += 1;
  delete verdict.dataset.verdict;
  verdict.textContent = 'Not verified yet.';
  verdictDetail.textContent = '';
  keyWarning.hidden = true;
}

/** `text` with a capital first letter and a final full stop. */
function sentence(text) {
  const t = String(text).trim();
  if (t === '') return t;
  const capital = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** "this issuer's ES256 key "k1"", "the HMAC secret (HS256)"… */
function describeKey(key) {
  if (key.source === 'secret') return `the HMAC secret (${key.alg})`;
  const owner = key.source === 'issuer' ? "this issuer's" : 'the';
  const kid = key.kid !== undefined ? ` "${key.kid}"` : '';
  return `${owner} ${key.alg} key${kid}`;
}

function showResult(result) {
  verdict.dataset.verdict = result.verdict;
  verdict.textContent = result.reason;
  let detail;
  if (result.verdict === 'valid') {
    detail = `Verified with ${describeKey(result.key)}.`;
    detail +=
      result.payloadKind === 'claims'
        ? ' It has not expired and is already valid (exp, nbf and iat, with 30 s of leeway).'
        : ' The payload is not a JSON claims set, so no claim was checked.';
  } else if (result.key) {
    // The signature was good; a claim was not.
    detail = `The signature is good (${describeKey(result.key)}), but: ${sentence(result.detail)}`;
  } else {
    detail = sentence(result.detail);
  }
  verdictDetail.textContent = detail;
  keyWarning.hidden = !result.key?.private;
}

async function runVerify() {
  const mine = ++generation;
  delete verdict.dataset.verdict;
  verdict.textContent = 'Verifying…';
  verdictDetail.textContent = '';
  keyWarning.hidden = true;
  verifyButton.disabled = true;
  verifyButton.setAttribute('aria-busy', 'true');
  let result;
  try {
    result = await verify(tokenInput.value.trim(), currentKeySource(), { now: nowSeconds() });
  } finally {
    verifyButton.disabled = false;
    verifyButton.removeAttribute('aria-busy');
  }
  // The token or the key changed while verifying: this verdict is not about them.
  if (mine !== generation) return;
  showResult(result);
}

// ---------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------

tokenInput.addEventListener('input', () => {
  clearVerdict();
  showDecoded();
});
keySource.addEventListener('change', () => {
  clearVerdict();
  showKeySource();
});
keyInput.addEventListener('input', clearVerdict);
encodingInput.addEventListener('change', clearVerdict);
form.addEventListener('submit', (event) => {
  event.preventDefault();
  runVerify();
});
// A page restored from the back/forward cache keeps its fields: show what they hold.
window.addEventListener('pageshow', () => {
  showKeySource();
  showDecoded();
});

showKeySource();
showDecoded();
setInterval(showTimes, 1000);
verifyButton.disabled = false;
