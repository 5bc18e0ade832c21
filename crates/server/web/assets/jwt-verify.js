// The token inspector's verifier: decodes a compact JWS and checks its signature with WebCrypto,
// in the browser (or in Node, whose globalThis.crypto.subtle is the same API). Nothing here
// touches the DOM or sends anything anywhere, except the issuer key source, which GETs the
// issuer's public JWKS.
//
// The rules are tessera's (crates/jwt, `tessera token verify`), and so are the words:
// - the key decides the algorithm: a JWK's `alg`, an EC curve or Ed25519 binds it; the token's
//   `alg` must be that one, or, for an RSA key or an HMAC secret without `alg`, one of the key's
//   family. `none` and unknown names are "algorithm not allowed"; an RSA, EC or OKP key never
//   serves as an HMAC secret.
// - the token's `kid` only picks among the keys given (at most 4 candidates are tried);
// - JSON is strict: duplicate member names are refused (two parsers must never disagree about
//   what a token says), nesting is bounded;
// - after a good signature, a JSON claims set must carry `exp`; `exp`, `nbf` and `iat` are
//   checked with a leeway (30 s, the library's default). A payload that is not a JSON object is
//   a plain JWS: its signature is all there is to check.

/** Longest token accepted, in bytes (the library's DEFAULT_MAX_TOKEN_LEN). */
export const MAX_TOKEN_LEN = 16 * 1024;
/** Clock leeway in seconds for `exp`, `nbf` and `iat`. */
export const DEFAULT_LEEWAY = 30;
/** At most this many keys are tried for one token (the library's MAX_CANDIDATES). */
export const MAX_CANDIDATES = 4;
/** Where this issuer publishes its public keys. */
export const ISSUER_JWKS_PATH = '/.well-known/jwks.json';

const MAX_JSON_DEPTH = 32;
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
// RFC 7519 NumericDate range tessera accepts: 1970-01-01 to 9999-12-31.
const MAX_DATE = 253402300799;

const ALGORITHMS = Object.freeze({
  HS256: { family: 'oct', hash: 'SHA-256', size: 32 },
  HS384: { family: 'oct', hash: 'SHA-384', size: 48 },
  HS512: { family: 'oct', hash: 'SHA-512', size: 64 },
  RS256: { family: 'RSA', scheme: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  RS384: { family: 'RSA', scheme: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  RS512: { family: 'RSA', scheme: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  PS256: { family: 'RSA', scheme: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 },
  PS384: { family: 'RSA', scheme: 'RSA-PSS', hash: 'SHA-384', saltLength: 48 },
  PS512: { family: 'RSA', scheme: 'RSA-PSS', hash: 'SHA-512', saltLength: 64 },
  ES256: { family: 'EC', crv: 'P-256', hash: 'SHA-256', size: 32 },
  ES384: { family: 'EC', crv: 'P-384', hash: 'SHA-384', size: 48 },
  ES512: { family: 'EC', crv: 'P-521', hash: 'SHA-512', size: 66 },
  EdDSA: { family: 'OKP', crv: 'Ed25519' },
});

/** The algorithm names tessera verifies, in its order. */
export const ALGORITHM_NAMES = Object.freeze(Object.keys(ALGORITHMS));

const CURVE_ALG = Object.freeze({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' });
const FAMILY_ALGS = Object.freeze({
  oct: ['HS256', 'HS384', 'HS512'],
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
});
const FAMILY_NAME = Object.freeze({ oct: 'HMAC secret', RSA: 'RSA', EC: 'EC', OKP: 'Ed25519' });
// Header parameters RFC 7515 registers: `crit` may not list them.
const REGISTERED_HEADER = new Set([
  'alg', 'jku', 'jwk', 'kid', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'typ', 'cty', 'crit',
]);

function algorithm(name) {
  return typeof name === 'string' && Object.hasOwn(ALGORITHMS, name) ? ALGORITHMS[name] : null;
}

/**
 * A verdict on a token, thrown while checking it. `verdict` is 'invalid' for a rejected token
 * and 'error' for a problem with the key or this environment; `reason` is the short phrase
 * (what the inspector shows), `detail` the longer explanation in the CLI's words.
 */
export class TokenError extends Error {
  constructor(verdict, reason, detail = reason) {
    super(detail);
    this.name = 'TokenError';
    this.verdict = verdict;
    this.reason = reason;
    this.detail = detail;
  }
}

function malformed(why) {
  const text = `malformed token: ${why}`;
  return new TokenError('invalid', text, text);
}

function rejected(reason, detail) {
  return new TokenError('invalid', reason, detail);
}

function keyProblem(detail) {
  return new TokenError('error', 'invalid key', detail);
}

// ---------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < B64URL.length; i += 1) B64URL_VALUE[B64URL.charCodeAt(i)] = i;

/**
 * Decodes strict base64url (RFC 7515 §2): no padding, only `A-Z a-z 0-9 - _`, and the unused
 * bits of the last character zero (so that one byte string has one encoding). `null` when the
 * text deviates in any way.
 */
export function base64urlDecode(text) {
  if (typeof text !== 'string' || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? B64URL_VALUE[code] : -1;
    if (value < 0) return null;
    acc = (acc << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at] = (acc >> bits) & 0xff;
      at += 1;
    }
    acc &= (1 << bits) - 1;
  }
  // Left-over bits must be zero: "QR" and "QS" would otherwise both mean one byte.
  if (acc !== 0) return null;
  return out;
}

/** Encodes bytes as base64url without padding. */
export function base64urlEncode(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63] + B64URL[n & 63];
  }
  if (i + 1 === bytes.length) {
    const n = bytes[i] << 16;
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63];
  } else if (i + 2 === bytes.length) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64URL[n >> 18] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63];
  }
  return out;
}

const utf8 = new TextEncoder();
// `ignoreBOM` keeps a byte-order mark in the text, where strict JSON refuses it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

// ---------------------------------------------------------------------------------------
// Strict JSON
// ---------------------------------------------------------------------------------------

/** A JSON text that could not be read; `lenient` when JSON.parse would have accepted it. */
class JsonError extends Error {
  constructor(message, lenient = false) {
    super(message);
    this.name = 'JsonError';
    this.lenient = lenient;
  }
}

/** "an object", "a string"…: the kind of a JSON value, in the library's words. */
export function jsonKind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'boolean':
      return 'a boolean';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    default:
      return 'an object';
  }
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Parses one JSON value as strictly as tessera does: RFC 8259 syntax only, no duplicate member
 * names at any depth, no lone surrogate escapes, numbers finite, nesting at most 32 deep.
 * Member names such as `__proto__` become ordinary own properties.
 */
export function parseStrictJson(text) {
  let i = 0;
  const fail = (what, lenient = false) => {
    throw new JsonError(`${what} at character ${i + 1}`, lenient);
  };
  const skipSpace = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i += 1;
      else return;
    }
  };
  const describe = () =>
    i >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(text[i])}`;

  const hex4 = () => {
    const digits = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail('invalid \\u escape');
    i += 4;
    return parseInt(digits, 16);
  };

  const string = () => {
    i += 1; // the opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i += 1;
        return out;
      }
      if (c < 0x20) fail('control character in a string');
      if (c !== 0x5c) {
        i += 1;
        continue;
      }
      out += text.slice(start, i);
      i += 1;
      const e = text[i];
      i += 1;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const unit = hex4();
          if (unit >= 0xdc00 && unit <= 0xdfff) fail('lone trailing surrogate in a \\u escape');
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (text[i] !== '\\' || text[i + 1] !== 'u') fail('lone leading surrogate in a \\u escape');
            i += 2;
            const low = hex4();
            if (low < 0xdc00 || low > 0xdfff) fail('lone leading surrogate in a \\u escape');
            out += String.fromCharCode(unit, low);
          } else {
            out += String.fromCharCode(unit);
          }
          break;
        }
        default:
          i -= 1;
          fail('invalid escape');
      }
      start = i;
    }
  };

  const literal = (word, value) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail(describe());
  };

  const number = () => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail(describe());
    const value = Number(m[0]);
    if (!Number.isFinite(value)) fail('number out of range');
    i += m[0].length;
    return value;
  };

  const value = (depth) => {
    skipSpace();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_DEPTH) fail(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, true);
      return c === '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    return fail(describe());
  };

  const object = (depth) => {
    i += 1;
    const out = {};
    const seen = new Set();
    skipSpace();
    if (text[i] === '}') {
      i += 1;
      return out;
    }
    for (;;) {
      skipSpace();
      if (text[i] !== '"') fail(`expected a member name, ${describe()}`);
      const at = i;
      const name = string();
      if (seen.has(name)) {
        i = at;
        fail(`duplicate member name ${JSON.stringify(name)}`, true);
      }
      seen.add(name);
      skipSpace();
      if (text[i] !== ':') fail(`expected ':', ${describe()}`);
      i += 1;
      const member = value(depth);
      Object.defineProperty(out, name, {
        value: member,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      skipSpace();
      if (text[i] === ',') {
        i += 1;
      } else if (text[i] === '}') {
        i += 1;
        return out;
      } else {
        fail(`expected ',' or '}', ${describe()}`);
      }
    }
  };

  const array = (depth) => {
    i += 1;
    const out = [];
    skipSpace();
    if (text[i] === ']') {
      i += 1;
      return out;
    }
    for (;;) {
      out.push(value(depth));
      skipSpace();
      if (text[i] === ',') {
        i += 1;
      } else if (text[i] === ']') {
        i += 1;
        return out;
      } else {
        fail(`expected ',' or ']', ${describe()}`);
      }
    }
  };

  const result = value(0);
  skipSpace();
  if (i < text.length) fail('trailing characters');
  return result;
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/**
 * Splits and decodes a compact JWS WITHOUT verifying anything.
 *
 * Strict, like the library: three base64url segments (no padding, no whitespace), a header that
 * is a strict JSON object. The payload may be anything: a strict JSON object is a claims set
 * (`payloadKind` 'claims'), other strict JSON is 'json', anything else 'text' (shown as UTF-8,
 * invalid bytes as U+FFFD). A payload that is JSON only to a lenient parser (duplicate names)
 * is kept as text with `claimsError` set, and verification refuses it.
 *
 * Throws a TokenError whose message starts with "malformed token: " (or "token too large").
 */
export function decode(token) {
  if (typeof token !== 'string') throw malformed('the token is not text');
  const size = utf8.encode(token).length;
  if (size > MAX_TOKEN_LEN) {
    const text = `token too large: ${size} bytes, the limit is ${MAX_TOKEN_LEN}`;
    throw rejected(text, text);
  }
  if (token.length === 0) throw malformed('empty token');
  if (/[\t\n\f\r ]/.test(token)) throw malformed('token contains whitespace');
  const segments = token.split('.');
  if (segments.length !== 3) {
    throw malformed(
      `expected 3 segments separated by '.', found ${segments.length} ` +
        '(JWE and JSON serialization are not supported)',
    );
  }
  const [headerB64, payloadB64, signatureB64] = segments;
  if (headerB64.length === 0) throw malformed('empty header segment');
  const headerBytes = base64urlDecode(headerB64);
  if (!headerBytes) throw malformed('header is not strict base64url');
  let headerText;
  try {
    headerText = strictUtf8.decode(headerBytes);
  } catch {
    throw malformed('header: not UTF-8');
  }
  let header;
  try {
    header = parseStrictJson(headerText);
  } catch (e) {
    throw malformed(`header: ${e.message}`);
  }
  if (!isObject(header)) throw malformed(`header: expected a JSON object, found ${jsonKind(header)}`);
  const payloadBytes = base64urlDecode(payloadB64);
  if (!payloadBytes) throw malformed('payload is not strict base64url');
  const signature = base64urlDecode(signatureB64);
  if (!signature) throw malformed('signature is not strict base64url');

  let payload = lossyUtf8.decode(payloadBytes);
  let payloadKind = 'text';
  let claimsError = null;
  let payloadText = null;
  try {
    payloadText = strictUtf8.decode(payloadBytes);
  } catch {
    // Not UTF-8: text, shown lossily.
  }
  if (payloadText !== null) {
    try {
      const value = parseStrictJson(payloadText);
      payload = value;
      payloadKind = isObject(value) ? 'claims' : 'json';
    } catch (e) {
      if (e instanceof JsonError && e.lenient) claimsError = e.message;
    }
  }
  return {
    header,
    payload,
    payloadKind,
    claimsError,
    signature,
    signingInput: utf8.encode(`${headerB64}.${payloadB64}`),
  };
}

/** The header rules of the library (`Header::from_map`); returns the algorithm's name. */
function checkHeader(header) {
  if (!Object.hasOwn(header, 'alg')) throw rejected('invalid header', 'invalid header: no `alg`');
  const alg = header.alg;
  if (typeof alg !== 'string') {
    throw rejected('invalid header', `invalid header: \`alg\` must be a string, found ${jsonKind(alg)}`);
  }
  if (!algorithm(alg)) throw rejected('algorithm not allowed', `algorithm not allowed: ${alg}`);
  for (const name of ['typ', 'kid', 'cty']) {
    if (Object.hasOwn(header, name) && typeof header[name] !== 'string') {
      throw rejected(
        'invalid header',
        `invalid header: \`${name}\` must be a string, found ${jsonKind(header[name])}`,
      );
    }
  }
  if (Object.hasOwn(header, 'crit')) {
    const crit = header.crit;
    if (!Array.isArray(crit) || crit.length === 0) {
      throw rejected('invalid header', 'invalid header: `crit` must be a non-empty array');
    }
    if (!crit.every((n) => typeof n === 'string' && n.length > 0)) {
      throw rejected('invalid header', 'invalid header: `crit` must list non-empty strings');
    }
  }
  // RFC 7797: an unencoded payload changes what is signed; tessera does not support it.
  if (Object.hasOwn(header, 'b64') && header.b64 !== true) {
    throw rejected(
      'unsupported critical header parameter',
      'unsupported critical header parameter: b64',
    );
  }
  return alg;
}

/** RFC 7515 §4.1.11: this verifier understands no extension, so any valid `crit` refuses. */
function checkCrit(header) {
  if (!Object.hasOwn(header, 'crit')) return;
  for (const name of header.crit) {
    if (REGISTERED_HEADER.has(name)) {
      throw rejected(
        'invalid header',
        `invalid header: \`crit\` lists the registered parameter ${JSON.stringify(name)}`,
      );
    }
    if (!Object.hasOwn(header, name)) {
      throw rejected(
        'invalid header',
        `invalid header: \`crit\` lists ${JSON.stringify(name)}, which is not in the header`,
      );
    }
    throw rejected(
      'unsupported critical header parameter',
      `unsupported critical header parameter: ${name}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

function bitLength(bytes) {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i += 1;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
}

function b64Member(jwk, name) {
  const value = jwk[name];
  if (value === undefined) throw keyProblem(`invalid key: JWK of kty ${jwk.kty} lacks \`${name}\``);
  const bytes = typeof value === 'string' ? base64urlDecode(value) : null;
  if (!bytes) throw keyProblem(`invalid key: JWK member \`${name}\` is not strict base64url`);
  return bytes;
}

function optionalString(jwk, name) {
  if (!Object.hasOwn(jwk, name)) return null;
  if (typeof jwk[name] !== 'string') {
    throw keyProblem(`invalid key: JWK member \`${name}\` must be a string, found ${jsonKind(jwk[name])}`);
  }
  return jwk[name];
}

/**
 * Reads a JWK into a verifying key: `{ kty, crv, alg (bound, or null), kid, denied, secret?,
 * jwk (public members only, for WebCrypto), private }`. Throws TokenError('error', …).
 */
function readJwk(jwk) {
  if (!isObject(jwk)) throw keyProblem(`invalid key: a JWK is a JSON object, not ${jsonKind(jwk)}`);
  if (typeof jwk.kty !== 'string') throw keyProblem('invalid key: the JWK has no `kty`');
  const kid = optionalString(jwk, 'kid');
  const use = optionalString(jwk, 'use');
  const jwkAlg = optionalString(jwk, 'alg');
  let keyOps = null;
  if (Object.hasOwn(jwk, 'key_ops')) {
    if (!Array.isArray(jwk.key_ops) || !jwk.key_ops.every((o) => typeof o === 'string')) {
      throw keyProblem('invalid key: JWK member `key_ops` must be an array of strings');
    }
    keyOps = jwk.key_ops;
  }
  let key;
  switch (jwk.kty) {
    case 'oct': {
      key = { kty: 'oct', secret: b64Member(jwk, 'k'), jwk: null };
      break;
    }
    case 'RSA': {
      const n = b64Member(jwk, 'n');
      const e = b64Member(jwk, 'e');
      checkRsa(n, e);
      key = { kty: 'RSA', jwk: { kty: 'RSA', n: jwk.n, e: jwk.e }, bits: bitLength(n) };
      break;
    }
    case 'EC': {
      const crv = optionalString(jwk, 'crv');
      const alg = crv === null ? null : CURVE_ALG[crv];
      if (!alg) throw keyProblem(`invalid key: unsupported EC curve ${JSON.stringify(crv)}`);
      const size = ALGORITHMS[alg].size;
      for (const name of ['x', 'y']) {
        if (b64Member(jwk, name).length !== size) {
          throw keyProblem(`invalid key: the ${crv} coordinate \`${name}\` must be ${size} bytes`);
        }
      }
      key = { kty: 'EC', crv, jwk: { kty: 'EC', crv, x: jwk.x, y: jwk.y } };
      break;
    }
    case 'OKP': {
      const crv = optionalString(jwk, 'crv');
      if (crv !== 'Ed25519') {
        throw keyProblem(`invalid key: unsupported OKP curve ${JSON.stringify(crv)} (only Ed25519 signs)`);
      }
      if (b64Member(jwk, 'x').length !== 32) {
        throw keyProblem('invalid key: an Ed25519 public key `x` is 32 bytes');
      }
      key = { kty: 'OKP', crv, jwk: { kty: 'OKP', crv, x: jwk.x } };
      break;
    }
    default:
      throw keyProblem(`invalid key: unsupported kty \`${jwk.kty}\``);
  }
  // The algorithm the key is bound to: its `alg`, else the one its curve fixes.
  let bound = null;
  if (jwkAlg !== null) {
    if (!algorithm(jwkAlg)) {
      throw keyProblem(`invalid key: the key's \`alg\` "${jwkAlg}" is not a supported JWS algorithm`);
    }
    bound = jwkAlg;
  } else if (key.kty === 'EC') {
    bound = CURVE_ALG[key.crv];
  } else if (key.kty === 'OKP') {
    bound = 'EdDSA';
  }
  if (bound !== null && !fits(key, bound)) {
    const family = FAMILY_NAME[key.kty];
    const article = /^[ERH]/.test(family) ? 'an' : 'a';
    throw keyProblem(`invalid key: ${article} ${family} key cannot be used with ${bound}`);
  }
  let denied = null;
  if (use !== null && use !== 'sig') {
    denied = `its \`use\` is "${use}", not "sig"`;
  } else if (keyOps !== null && !keyOps.includes('verify')) {
    denied = 'its `key_ops` do not include "verify"';
  }
  const isPrivate = ['d', 'p', 'q', 'dp', 'dq', 'qi'].some((m) => Object.hasOwn(jwk, m));
  return { ...key, alg: bound, kid, denied, private: isPrivate };
}

function checkRsa(n, e) {
  const bits = bitLength(n);
  const eBits = bitLength(e);
  if (bits < MIN_RSA_BITS) {
    throw keyProblem(`invalid key: RSA key is ${bits} bits; at least ${MIN_RSA_BITS} are required`);
  }
  if (bits > MAX_RSA_BITS) {
    throw keyProblem(`invalid key: RSA key is ${bits} bits; at most ${MAX_RSA_BITS} are supported`);
  }
  if ((n[n.length - 1] & 1) === 0) throw keyProblem('invalid key: RSA modulus is even');
  if ((e[e.length - 1] & 1) === 0 || eBits < 2 || eBits > 33) {
    throw keyProblem('invalid key: RSA public exponent must be odd, at least 3 and at most 33 bits');
  }
}

/** Whether `key`'s material can verify `alg` (family and curve; `alg` binding aside). */
function fits(key, alg) {
  const spec = ALGORITHMS[alg];
  if (spec.family !== key.kty) return false;
  return spec.crv === undefined || spec.crv === key.crv;
}

/** Whether `key` may verify a token of `alg`: bound to it, or unbound and of its family. */
function allows(key, alg) {
  return key.alg === null ? fits(key, alg) : key.alg === alg;
}

function describeAlgs(key) {
  if (key.alg !== null) return key.alg;
  return FAMILY_ALGS[key.kty].join(', ');
}

/** A JWK Set's keys; members that cannot be read are skipped, with the reason. */
function readJwkSet(set) {
  if (!Array.isArray(set.keys)) {
    throw keyProblem(
      Object.hasOwn(set, 'keys')
        ? 'invalid key: JWKS: `keys` is not an array'
        : 'invalid key: JWKS: no `keys` member',
    );
  }
  const keys = [];
  const skipped = [];
  for (const entry of set.keys) {
    if (!isObject(entry)) {
      skipped.push({ kid: null, why: `a member of \`keys\` is ${jsonKind(entry)}, not a JWK` });
      continue;
    }
    try {
      keys.push(readJwk(entry));
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      const kid = typeof entry.kid === 'string' ? entry.kid : null;
      skipped.push({ kid, why: e.detail.replace(/^invalid key: /, '') });
    }
  }
  return { keys, skipped };
}

/** Reads pasted JSON holding a JWK or a JWK Set. */
function keysFromJson(text) {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (trimmed === '') throw new TokenError('error', 'no key', 'paste a JWK or a JWK Set (JSON) to verify with');
  let value;
  try {
    value = parseStrictJson(trimmed);
  } catch (e) {
    throw keyProblem(`invalid key: JWK: ${e.message}`);
  }
  if (!isObject(value)) {
    throw keyProblem(`invalid key: JWK: expected a JSON object, found ${jsonKind(value)}`);
  }
  if (Object.hasOwn(value, 'keys') && !Object.hasOwn(value, 'kty')) return readJwkSet(value);
  return { keys: [readJwk(value)], skipped: [] };
}

/** An HMAC secret typed or pasted as text ('utf-8') or as base64url. */
function keysFromSecret(text, encoding) {
  if (typeof text !== 'string' || text.length === 0) {
    throw new TokenError('error', 'no key', 'type or paste the HMAC secret to verify with');
  }
  const trimmed = text.trim();
  // The classic confusion: a public key used as an HMAC secret. Refuse anything that is one.
  if (/^-----BEGIN /.test(trimmed)) {
    throw keyProblem('invalid key: this is a PEM key, not an HMAC secret; a public key never verifies HS256, HS384 or HS512');
  }
  if (trimmed.startsWith('{')) {
    let value = null;
    try {
      value = parseStrictJson(trimmed);
    } catch {
      // Not JSON: an odd secret, but a secret.
    }
    if (isObject(value) && (Object.hasOwn(value, 'kty') || Object.hasOwn(value, 'keys'))) {
      throw keyProblem('invalid key: this is a JWK, not an HMAC secret; choose "A JWK or JWKS" to verify with it');
    }
  }
  let secret;
  if (encoding === 'base64url') {
    secret = base64urlDecode(trimmed);
    if (!secret) {
      throw keyProblem('invalid key: the secret is not strict base64url (A-Z a-z 0-9 - _, no padding)');
    }
  } else if (encoding === undefined || encoding === 'utf-8') {
    secret = utf8.encode(text);
  } else {
    throw keyProblem(`invalid key: unknown secret encoding ${JSON.stringify(encoding)}`);
  }
  return {
    keys: [{ kty: 'oct', secret, jwk: null, alg: null, kid: null, denied: null, private: false }],
    skipped: [],
  };
}

async function keysFromIssuer(source, options) {
  const fetcher = options.fetch ?? globalThis.fetch;
  const url = source.url ?? ISSUER_JWKS_PATH;
  let response;
  try {
    // `no-cache`: revalidated (ETag), so that a rotation shows at once.
    response = await fetcher(url, {
      headers: { accept: 'application/json' },
      cache: 'no-cache',
      credentials: 'omit',
    });
  } catch (e) {
    throw new TokenError('error', 'could not fetch the issuer\'s keys', `could not fetch this issuer's keys: ${e.message}`);
  }
  if (!response.ok) {
    throw new TokenError('error', 'could not fetch the issuer\'s keys', `could not fetch this issuer's keys: HTTP ${response.status}`);
  }
  const text = await response.text();
  let value;
  try {
    value = parseStrictJson(text);
  } catch (e) {
    throw keyProblem(`invalid key: the issuer's JWKS: ${e.message}`);
  }
  if (!isObject(value)) throw keyProblem('invalid key: the issuer\'s JWKS is not a JSON object');
  return readJwkSet(value);
}

/**
 * The keys of a key source:
 * - `{ kind: 'issuer', url? }`: this issuer's JWKS (GET /.well-known/jwks.json);
 * - `{ kind: 'jwk', text }` (or `jwk`: an object): a JWK or a JWK Set;
 * - `{ kind: 'secret', text, encoding: 'utf-8' | 'base64url' }`: an HMAC secret.
 */
async function loadKeys(source, options) {
  if (!isObject(source)) throw new TokenError('error', 'no key', 'no key source given');
  switch (source.kind) {
    case 'issuer':
      return keysFromIssuer(source, options);
    case 'jwk':
      if (isObject(source.jwk)) {
        return Object.hasOwn(source.jwk, 'keys') && !Object.hasOwn(source.jwk, 'kty')
          ? readJwkSet(source.jwk)
          : { keys: [readJwk(source.jwk)], skipped: [] };
      }
      return keysFromJson(source.text);
    case 'secret':
      return keysFromSecret(source.text, source.encoding);
    default:
      throw new TokenError('error', 'no key', `unknown key source ${JSON.stringify(source.kind)}`);
  }
}

function skippedHint(skipped) {
  if (skipped.length === 0) return '';
  const items = skipped.map(({ kid, why }) =>
    kid === null ? `a key without kid: ${why}` : `kid "${kid}": ${why}`,
  );
  return ` (skipped ${items.join('; ')})`;
}

/** The library's key selection (`keyset::select`): by `kid`, then by algorithm. */
function select({ keys, skipped }, header, alg) {
  const exact = [];
  const loose = [];
  let otherAlg = null;
  const want = Object.hasOwn(header, 'kid') ? header.kid : null;
  for (const key of keys) {
    let byKid = false;
    if (want !== null && key.kid !== null) {
      if (want !== key.kid) continue;
      byKid = true;
    }
    // A key without a kid matches any token, and a token without a kid any key.
    if (!allows(key, alg)) {
      otherAlg ??= key;
    } else if (byKid) {
      exact.push(key);
    } else {
      loose.push(key);
    }
  }
  const chosen = (exact.length > 0 ? exact : loose).slice(0, MAX_CANDIDATES);
  if (chosen.length > 0) return chosen;
  if (otherAlg !== null) {
    throw rejected(
      'algorithm not allowed',
      `algorithm not allowed: ${alg} (the key is for ${describeAlgs(otherAlg)})`,
    );
  }
  const hint = skippedHint(skipped);
  if (want !== null) {
    throw rejected(
      "no key matches the token's kid",
      `no matching key: no ${alg} key with kid ${JSON.stringify(want)}${hint}`,
    );
  }
  throw rejected('no matching key', `no matching key: no ${alg} key${hint}`);
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

/** Imports `key` for `alg` into WebCrypto, or throws TokenError('error', …). */
async function importKey(subtle, key, alg) {
  const spec = ALGORITHMS[alg];
  try {
    switch (spec.family) {
      case 'oct':
        return await subtle.importKey('raw', key.secret, { name: 'HMAC', hash: spec.hash }, false, ['verify']);
      case 'RSA':
        return await subtle.importKey('jwk', key.jwk, { name: spec.scheme, hash: spec.hash }, false, ['verify']);
      case 'EC':
        return await subtle.importKey('jwk', key.jwk, { name: 'ECDSA', namedCurve: spec.crv }, false, ['verify']);
      default:
        return await subtle.importKey('jwk', key.jwk, { name: 'Ed25519' }, false, ['verify']);
    }
  } catch (e) {
    if (spec.family === 'OKP' && (e?.name === 'NotSupportedError' || e?.name === 'TypeError')) {
      throw new TokenError('error', 'this browser cannot verify EdDSA', 'this browser cannot verify EdDSA (its WebCrypto lacks Ed25519)');
    }
    throw keyProblem(`invalid key: ${FAMILY_NAME[spec.family]} key: ${e?.message ?? e}`);
  }
}

/** Whether `signature` over `message` verifies with `cryptoKey`. */
async function checkSignature(subtle, cryptoKey, alg, message, signature) {
  const spec = ALGORITHMS[alg];
  // Fixed-size signatures are checked for size first: ECDSA's is r‖s, each a coordinate long
  // (RFC 7518 §3.4), never DER; Ed25519's is 64 bytes, an HMAC the hash's size.
  if (spec.family === 'EC' && signature.length !== 2 * spec.size) return false;
  if (spec.family === 'OKP' && signature.length !== 64) return false;
  if (spec.family === 'oct' && signature.length !== spec.size) return false;
  let params;
  switch (spec.family) {
    case 'oct':
      params = { name: 'HMAC' };
      break;
    case 'RSA':
      params = spec.saltLength ? { name: 'RSA-PSS', saltLength: spec.saltLength } : { name: spec.scheme };
      break;
    case 'EC':
      params = { name: 'ECDSA', hash: spec.hash };
      break;
    default:
      params = { name: 'Ed25519' };
  }
  try {
    return await subtle.verify(params, cryptoKey, signature, message);
  } catch {
    // A signature WebCrypto cannot even read (an RSA one of the wrong size) is simply wrong.
    return false;
  }
}

function publicDescription(key, alg, source) {
  const out = { kty: key.kty, alg, source };
  if (key.kid !== null) out.kid = key.kid;
  if (key.crv) out.crv = key.crv;
  if (key.bits) out.bits = key.bits;
  if (key.private) out.private = true;
  return out;
}

// ---------------------------------------------------------------------------------------
// Claims and time
// ---------------------------------------------------------------------------------------

/** A UNIX time as RFC 3339 in UTC, whole seconds: `2026-11-23T10:00:00Z`. */
export function rfc3339(seconds) {
  return new Date(Math.floor(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function numericDate(claims, name) {
  if (!Object.hasOwn(claims, name)) return null;
  const value = claims[name];
  if (typeof value !== 'number') {
    throw rejected(
      'invalid claim',
      `invalid claim \`${name}\`: expected a number of seconds, found ${jsonKind(value)}`,
    );
  }
  if (!(value >= 0 && value <= MAX_DATE)) {
    throw rejected('invalid claim', `invalid claim \`${name}\`: ${value} is outside 1970-01-01..9999-12-31`);
  }
  return value;
}

function checkClaims(claims, now, leeway) {
  for (const name of ['iss', 'sub', 'jti']) {
    if (Object.hasOwn(claims, name) && typeof claims[name] !== 'string') {
      throw rejected(
        'invalid claim',
        `invalid claim \`${name}\`: expected a string, found ${jsonKind(claims[name])}`,
      );
    }
  }
  if (Object.hasOwn(claims, 'aud')) {
    const aud = claims.aud;
    if (Array.isArray(aud)) {
      const odd = aud.find((a) => typeof a !== 'string');
      if (odd !== undefined) {
        throw rejected('invalid claim', `invalid claim \`aud\`: array member is ${jsonKind(odd)}, not a string`);
      }
    } else if (typeof aud !== 'string') {
      throw rejected(
        'invalid claim',
        `invalid claim \`aud\`: expected a string or an array of strings, found ${jsonKind(aud)}`,
      );
    }
  }
  const exp = numericDate(claims, 'exp');
  const nbf = numericDate(claims, 'nbf');
  const iat = numericDate(claims, 'iat');
  if (exp === null) throw rejected('missing required claim `exp`', 'missing required claim `exp`');
  // RFC 7519 §4.1.4: the current time must be before exp.
  if (now >= exp + leeway) {
    throw rejected('expired', `token expired at ${rfc3339(exp)} (now ${rfc3339(now)})`);
  }
  if (nbf !== null && now + leeway < nbf) {
    throw rejected('not yet valid', `token not valid before ${rfc3339(nbf)} (now ${rfc3339(now)})`);
  }
  if (iat !== null && now + leeway < iat) {
    throw rejected('issued in the future', `token issued in the future at ${rfc3339(iat)} (now ${rfc3339(now)})`);
  }
}

/**
 * A span of time for people, its two largest units: "42 s", "5 min", "2 h 5 min", "3 d 4 h".
 */
export function span(seconds) {
  const secs = Math.max(0, Math.floor(seconds));
  const units = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  const first = units.findIndex(([size]) => secs >= size);
  if (first < 0) return '0 s';
  const [size, name] = units[first];
  const parts = [`${Math.floor(secs / size)} ${name}`];
  const next = units[first + 1];
  if (next) {
    const n = Math.floor((secs % size) / next[0]);
    if (n > 0) parts.push(`${n} ${next[1]}`);
  }
  return parts.join(' ');
}

/**
 * The token's times for people, as of `now` (UNIX seconds): one entry per `exp`, `nbf`, `iat`
 * present — `{ claim, value, date (RFC 3339) | null, text, state }` where `text` is "expires in
 * 5 min", "expired 3 min ago", "valid in 2 min", "valid since 1 h ago", "issued 4 min ago"… and
 * `state` 'ok' | 'expired' | 'future' | 'invalid'. Without `exp`, an entry says the token
 * never expires. `[]` for a payload that is not a claims set.
 */
export function describeTimes(payload, now) {
  if (!isObject(payload)) return [];
  const out = [];
  if (!Object.hasOwn(payload, 'exp')) {
    out.push({ claim: 'exp', value: null, date: null, text: 'none: the token never expires', state: 'invalid' });
  }
  for (const claim of ['exp', 'nbf', 'iat']) {
    if (!Object.hasOwn(payload, claim)) continue;
    const value = payload[claim];
    if (typeof value !== 'number' || !(value >= 0 && value <= MAX_DATE)) {
      out.push({ claim, value, date: null, text: 'not a valid NumericDate', state: 'invalid' });
      continue;
    }
    const delta = value - now;
    const away = span(Math.abs(delta));
    let text;
    let state = 'ok';
    if (claim === 'exp') {
      // Expired once the current time is at or after exp.
      if (delta <= 0) {
        text = `expired ${away} ago`;
        state = 'expired';
      } else {
        text = `expires in ${away}`;
      }
    } else if (claim === 'nbf') {
      if (delta > 0) {
        text = `not valid yet: valid in ${away}`;
        state = 'future';
      } else {
        text = `valid since ${away} ago`;
      }
    } else if (delta > 0) {
      text = `issued in the future: in ${away}`;
      state = 'future';
    } else {
      text = `issued ${away} ago`;
    }
    out.push({ claim, value, date: rfc3339(value), text, state });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------

/**
 * Verifies `token` with the keys of `keySource` (see loadKeys) and judges its times.
 *
 * Options: `now` (UNIX seconds; default the clock), `leeway` (seconds, default 30),
 * `subtle` (a SubtleCrypto; default globalThis.crypto.subtle), `fetch` (for the issuer source).
 *
 * Resolves (never rejects) with `{ verdict, reason, detail, header, payload, payloadKind, key }`:
 * `verdict` 'valid' (reason "Signature verified"), 'invalid' (the token is rejected: reason
 * "invalid signature", "expired", "not yet valid", "algorithm not allowed", "no key matches the
 * token's kid", "malformed token: …"…) or 'error' (the key or this browser is the problem).
 * `key` describes the key that verified (public facts only), else null. `header` and `payload`
 * are null when the token could not be decoded.
 */
export async function verify(token, keySource, options = {}) {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const leeway = options.leeway ?? DEFAULT_LEEWAY;
  const result = {
    verdict: 'error',
    reason: '',
    detail: '',
    header: null,
    payload: null,
    payloadKind: null,
    key: null,
  };
  try {
    const decoded = decode(token);
    result.header = decoded.header;
    result.payload = decoded.payload;
    result.payloadKind = decoded.payloadKind;
    const alg = checkHeader(decoded.header);
    if (decoded.signature.length === 0) throw malformed('empty signature');
    checkCrit(decoded.header);
    const subtle = options.subtle ?? globalThis.crypto?.subtle;
    if (!subtle) {
      throw new TokenError(
        'error',
        'this browser cannot verify signatures here',
        'WebCrypto is not available: this page must be served over https (or from localhost)',
      );
    }
    const keys = await loadKeys(keySource, options);
    const candidates = select(keys, decoded.header, alg);
    let verifiedWith = null;
    let notUsable = null;
    for (const key of candidates) {
      if (key.denied !== null) {
        notUsable = key.denied;
        continue;
      }
      notUsable = null;
      if (key.kty === 'oct' && key.secret.length < ALGORITHMS[alg].size) {
        throw keyProblem(`invalid key: HMAC secret is ${key.secret.length} bytes; ${alg} needs at least ${ALGORITHMS[alg].size}`);
      }
      const cryptoKey = await importKey(subtle, key, alg);
      if (await checkSignature(subtle, cryptoKey, alg, decoded.signingInput, decoded.signature)) {
        verifiedWith = key;
        break;
      }
    }
    if (verifiedWith === null) {
      if (notUsable !== null) {
        throw rejected('key not usable for verification', `key not usable for verification: ${notUsable}`);
      }
      throw rejected('invalid signature', 'invalid signature');
    }
    result.key = publicDescription(verifiedWith, alg, keySource.kind);
    if (decoded.claimsError !== null) {
      throw rejected('invalid claims', `invalid claims: ${decoded.claimsError}`);
    }
    let detail = `signature verified with ${alg}`;
    if (decoded.payloadKind === 'claims') {
      checkClaims(decoded.payload, now, leeway);
      detail += `; exp, nbf and iat checked with a leeway of ${leeway} s`;
    } else {
      detail += '; the payload is not a JSON claims set, so no claim was checked';
    }
    result.verdict = 'valid';
    result.reason = 'Signature verified';
    result.detail = detail;
  } catch (e) {
    if (!(e instanceof TokenError)) {
      result.verdict = 'error';
      result.reason = 'verification failed';
      result.detail = `verification failed: ${e?.message ?? e}`;
      return result;
    }
    result.verdict = e.verdict;
    result.reason = e.reason;
    result.detail = e.detail;
  }
  return result;
}
