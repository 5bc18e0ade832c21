// Unit tests of the token inspector's verifier (crates/server/web/assets/jwt-verify.js) in
// Node's WebCrypto, which is the browser's API. Run: node --test e2e/unit/
//
// Published vectors (RFC 7515 A.1–A.3, RFC 8037 A.4, RFC 7520 §4.1–4.4) must verify, and each,
// tampered with, must not; then the rules tessera's CLI applies: the key decides the algorithm,
// `kid` selects, strict decoding, times with a 30 s leeway.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

// A relative path: the module has no bare imports and is loaded as it is served. (It is a
// plain .js file with module syntax outside any package.json "type": Node ≥ 20.19 detects it.)
import {
  DEFAULT_LEEWAY,
  base64urlDecode,
  base64urlEncode,
  decode,
  describeTimes,
  parseStrictJson,
  span,
  verify,
} from '../../crates/server/web/assets/jwt-verify.js';

const { subtle } = globalThis.crypto;

function readJson(relative) {
  return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8'));
}

const rfc = readJson('./vectors/rfc_vectors.json');
const rfcCase = (id) => {
  const found = rfc.compact_cases.find((c) => c.id === id);
  assert.ok(found, `vector ${id} is in rfc_vectors.json`);
  return found;
};
const cookbook = (file) => {
  const v = readJson(`./vectors/rfc7520/${file}`);
  return { token: v.output.compact, key: v.input.key, alg: v.input.alg, payload: v.input.payload };
};

// RFC 7515's example tokens expire at 1300819380 (2011-03-22T18:43:00Z).
const BEFORE_RFC_EXP = 1300819000;

const VECTORS = [
  { name: 'RFC 7515 A.1 (HS256)', alg: 'HS256', ...pick(rfcCase('rfc7515-A.1-HS256'), 'key') },
  { name: 'RFC 7515 A.2 (RS256)', alg: 'RS256', ...pick(rfcCase('rfc7515-A.2-RS256'), 'public_key') },
  { name: 'RFC 7515 A.3 (ES256)', alg: 'ES256', ...pick(rfcCase('rfc7515-A.3-ES256'), 'public_key') },
  { name: 'RFC 8037 A.4 (EdDSA)', ...cookbook('curve25519/jws.json') },
  { name: 'RFC 7520 4.1 (RS256)', ...cookbook('jws/4_1.rsa_v15_signature.json') },
  { name: 'RFC 7520 4.2 (PS384)', ...cookbook('jws/4_2.rsa-pss_signature.json') },
  { name: 'RFC 7520 4.3 (ES512)', ...cookbook('jws/4_3.ecdsa_signature.json') },
  { name: 'RFC 7520 4.4 (HS256)', ...cookbook('jws/4_4.hmac-sha2_integrity_protection.json') },
];

function pick(c, keyField) {
  return { token: c.token, key: c[keyField] };
}

/** Whether this Node's WebCrypto verifies Ed25519 (Node 20 does; older builds may not). */
async function hasEd25519() {
  try {
    await subtle.importKey(
      'jwk',
      { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    return true;
  } catch {
    return false;
  }
}
const ED25519 = await hasEd25519();
const NO_ED25519 = "this Node's WebCrypto lacks Ed25519";

/** The token with bit 0 of its signature's middle byte flipped. */
function flipSignatureBit(token) {
  const [h, p, s] = token.split('.');
  const sig = base64urlDecode(s);
  sig[sig.length >> 1] ^= 1;
  return `${h}.${p}.${base64urlEncode(sig)}`;
}

/** The token with the first byte of its payload changed, the signature kept. */
function changePayload(token) {
  const [h, p, s] = token.split('.');
  const payload = base64urlDecode(p);
  payload[0] ^= 1;
  return `${h}.${base64urlEncode(payload)}.${s}`;
}

const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const b64text = (text) => Buffer.from(text).toString('base64url');

/** Signs a compact JWS with a WebCrypto key (ES256 or HS*); the header and payload as given. */
async function sign(privateKey, header, payload) {
  const input = `${typeof header === 'string' ? b64text(header) : b64json(header)}.${
    typeof payload === 'string' ? b64text(payload) : b64json(payload)
  }`;
  const params =
    privateKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'HMAC' };
  const sig = new Uint8Array(await subtle.sign(params, privateKey, new TextEncoder().encode(input)));
  return `${input}.${base64urlEncode(sig)}`;
}

async function es256Pair(kid) {
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', pair.publicKey);
  const publicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, use: 'sig', alg: 'ES256' };
  if (kid !== undefined) publicJwk.kid = kid;
  return { privateKey: pair.privateKey, jwk: publicJwk };
}

async function hmacKey(secretBytes, hash = 'SHA-256') {
  return subtle.importKey('raw', secretBytes, { name: 'HMAC', hash }, false, ['sign']);
}

const jwkSource = (jwk) => ({ kind: 'jwk', text: JSON.stringify(jwk) });

function assertVerdict(result, verdict, reason) {
  assert.equal(result.verdict, verdict, `verdict (${result.detail})`);
  assert.equal(result.reason, reason, `reason (${result.detail})`);
}

// ---------------------------------------------------------------------------------------

describe('published vectors', () => {
  for (const v of VECTORS) {
    const skip = v.alg === 'EdDSA' && !ED25519 ? NO_ED25519 : false;

    test(`${v.name} verifies`, { skip }, async () => {
      const r = await verify(v.token, jwkSource(v.key), { now: BEFORE_RFC_EXP });
      assertVerdict(r, 'valid', 'Signature verified');
      assert.equal(r.key.alg, v.alg);
      assert.equal(r.header.alg, v.alg);
      if (v.payload !== undefined) {
        assert.equal(r.payloadKind, 'text');
        assert.equal(r.payload, v.payload);
      } else {
        assert.equal(r.payloadKind, 'claims');
        assert.equal(r.payload.iss, 'joe');
      }
    });

    test(`${v.name} with a flipped signature bit: invalid signature`, { skip }, async () => {
      const r = await verify(flipSignatureBit(v.token), jwkSource(v.key), { now: BEFORE_RFC_EXP });
      assertVerdict(r, 'invalid', 'invalid signature');
      assert.equal(r.key, null);
    });

    test(`${v.name} with a changed payload: invalid signature`, { skip }, async () => {
      const r = await verify(changePayload(v.token), jwkSource(v.key), { now: BEFORE_RFC_EXP });
      assertVerdict(r, 'invalid', 'invalid signature');
    });
  }

  test('RFC 7515 A.1 with its key as a base64url HMAC secret', async () => {
    const v = rfcCase('rfc7515-A.1-HS256');
    const r = await verify(
      v.token,
      { kind: 'secret', text: v.key.k, encoding: 'base64url' },
      { now: BEFORE_RFC_EXP },
    );
    assertVerdict(r, 'valid', 'Signature verified');
    assert.deepEqual(r.key, { kty: 'oct', alg: 'HS256', source: 'secret' });
  });

  test('RFC 7515 A.1 judged at its published time is expired', async () => {
    const v = rfcCase('rfc7515-A.1-HS256');
    const r = await verify(v.token, jwkSource(v.key), { now: 1800000000 });
    assertVerdict(r, 'invalid', 'expired');
    assert.equal(r.detail, 'token expired at 2011-03-22T18:43:00Z (now 2027-01-15T08:00:00Z)');
    // The signature was good: the key is named even so.
    assert.equal(r.key.alg, 'HS256');
  });

  test('the cookbook keys are private JWKs: only their public part is used, and it is said', async () => {
    const v = VECTORS.find((x) => x.name.startsWith('RFC 7520 4.1'));
    assert.ok(v.key.d, 'the cookbook key is private');
    const r = await verify(v.token, jwkSource(v.key), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'valid', 'Signature verified');
    assert.equal(r.key.private, true);
    assert.equal(r.key.kid, 'bilbo.baggins@hobbiton.example');
    assert.equal(r.key.bits, 2048);
  });
});

describe('algorithm rules', () => {
  test('alg "none" (RFC 7515 A.5): algorithm not allowed, whatever the key', async () => {
    const v = rfcCase('rfc7515-A.5-none');
    const key = rfcCase('rfc7515-A.1-HS256').key;
    const r = await verify(v.token, jwkSource(key));
    assertVerdict(r, 'invalid', 'algorithm not allowed');
    assert.equal(r.detail, 'algorithm not allowed: none');
  });

  test('an unknown or miscased alg is not allowed', async () => {
    const key = rfcCase('rfc7515-A.1-HS256').key;
    for (const alg of ['hs256', 'HS1', 'None', 'ES256K', 'constructor', '__proto__']) {
      const token = `${b64json({ alg })}.${b64json({ exp: 2e9 })}.AAAA`;
      const r = await verify(token, jwkSource(key));
      assertVerdict(r, 'invalid', 'algorithm not allowed');
    }
  });

  test('alg must be a string', async () => {
    const token = `${b64json({ alg: 5 })}.${b64json({})}.AAAA`;
    const r = await verify(token, jwkSource(rfcCase('rfc7515-A.1-HS256').key));
    assertVerdict(r, 'invalid', 'invalid header');
    assert.equal(r.detail, 'invalid header: `alg` must be a string, found a number');
  });

  test('an HS256 token against an RSA JWK: algorithm not allowed', async () => {
    const rsa = rfcCase('rfc7515-A.2-RS256').public_key;
    // The classic confusion: the token signed with the RSA public key's own text as secret.
    const secret = new TextEncoder().encode(JSON.stringify(rsa));
    const token = await sign(await hmacKey(secret), { alg: 'HS256' }, { exp: 2e9 });
    const r = await verify(token, jwkSource(rsa));
    assertVerdict(r, 'invalid', 'algorithm not allowed');
    assert.match(r.detail, /^algorithm not allowed: HS256 \(the key is for RS256, .*PS512\)$/);
  });

  test('an HS256 token against an EC or OKP JWK: algorithm not allowed', async () => {
    const hs = rfcCase('rfc7515-A.1-HS256').token;
    for (const key of [
      rfcCase('rfc7515-A.3-ES256').public_key,
      rfcCase('rfc8037-A.4-EdDSA').public_key,
    ]) {
      const r = await verify(hs, jwkSource(key), { now: BEFORE_RFC_EXP });
      assertVerdict(r, 'invalid', 'algorithm not allowed');
    }
  });

  test('a public key pasted as an HMAC secret is refused', async () => {
    const hs = rfcCase('rfc7515-A.1-HS256').token;
    const rsa = rfcCase('rfc7515-A.2-RS256').public_key;
    let r = await verify(hs, { kind: 'secret', text: JSON.stringify(rsa), encoding: 'utf-8' });
    assertVerdict(r, 'error', 'invalid key');
    assert.match(r.detail, /this is a JWK, not an HMAC secret/);
    const pem = '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n';
    r = await verify(hs, { kind: 'secret', text: pem, encoding: 'utf-8' });
    assertVerdict(r, 'error', 'invalid key');
    assert.match(r.detail, /PEM key, not an HMAC secret/);
  });

  test('an RS256 token against an HMAC secret: algorithm not allowed', async () => {
    const r = await verify(rfcCase('rfc7515-A.2-RS256').token, {
      kind: 'secret',
      text: 'a secret of more than thirty-two bytes, surely',
      encoding: 'utf-8',
    });
    assertVerdict(r, 'invalid', 'algorithm not allowed');
    assert.equal(r.detail, 'algorithm not allowed: RS256 (the key is for HS256, HS384, HS512)');
  });

  test("a JWK's alg must be the token's alg", async () => {
    const v = rfcCase('rfc7515-A.2-RS256');
    const r = await verify(v.token, jwkSource({ ...v.public_key, alg: 'PS256' }), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'invalid', 'algorithm not allowed');
    assert.equal(r.detail, 'algorithm not allowed: RS256 (the key is for PS256)');
    // The same key with the right alg verifies.
    const ok = await verify(v.token, jwkSource({ ...v.public_key, alg: 'RS256' }), { now: BEFORE_RFC_EXP });
    assertVerdict(ok, 'valid', 'Signature verified');
  });

  test('an EC key is bound to its curve: ES384 with a P-256 key is not allowed', async () => {
    const { privateKey, jwk } = await es256Pair();
    const token = await sign(privateKey, { alg: 'ES384' }, { exp: 2e9 });
    const { alg, ...unbound } = jwk;
    assert.equal(alg, 'ES256');
    const r = await verify(token, jwkSource(unbound));
    assertVerdict(r, 'invalid', 'algorithm not allowed');
    assert.equal(r.detail, 'algorithm not allowed: ES384 (the key is for ES256)');
  });

  test('a JWK whose alg does not fit its kind is an unusable key', async () => {
    const r = await verify(
      rfcCase('rfc7515-A.2-RS256').token,
      jwkSource({ ...rfcCase('rfc7515-A.2-RS256').public_key, alg: 'ES256' }),
    );
    assertVerdict(r, 'error', 'invalid key');
    assert.equal(r.detail, 'invalid key: an RSA key cannot be used with ES256');
  });

  test('an ECDSA signature in DER form (not r‖s) is an invalid signature', async () => {
    const v = rfcCase('rfc7515-A.3-ES256');
    const [h, p, s] = v.token.split('.');
    const raw = base64urlDecode(s);
    // A DER SEQUENCE of the two integers: the right values, the wrong encoding.
    const int = (bytes) => {
      const b = bytes[0] & 0x80 ? [0, ...bytes] : [...bytes];
      return [0x02, b.length, ...b];
    };
    const body = [...int(raw.slice(0, 32)), ...int(raw.slice(32))];
    const der = new Uint8Array([0x30, body.length, ...body]);
    const r = await verify(`${h}.${p}.${base64urlEncode(der)}`, jwkSource(v.public_key), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'invalid', 'invalid signature');
  });
});

describe('keys', () => {
  test('a JWK with use "enc" does not verify', async () => {
    const v = rfcCase('rfc7515-A.3-ES256');
    const r = await verify(v.token, jwkSource({ ...v.public_key, use: 'enc' }), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'invalid', 'key not usable for verification');
    assert.equal(r.detail, 'key not usable for verification: its `use` is "enc", not "sig"');
  });

  test('a JWK whose key_ops lack "verify" does not verify', async () => {
    const v = rfcCase('rfc7515-A.3-ES256');
    const r = await verify(v.token, jwkSource({ ...v.public_key, key_ops: ['sign'] }), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'invalid', 'key not usable for verification');
  });

  test('an HMAC secret shorter than the hash is refused, as the CLI does', async () => {
    const secret = new TextEncoder().encode('short secret');
    const token = await sign(await hmacKey(secret), { alg: 'HS256' }, { exp: 2e9 });
    const r = await verify(token, { kind: 'secret', text: 'short secret', encoding: 'utf-8' });
    assertVerdict(r, 'error', 'invalid key');
    assert.equal(r.detail, 'invalid key: HMAC secret is 12 bytes; HS256 needs at least 32');
  });

  test('a UTF-8 HMAC secret verifies, exactly as typed', async () => {
    const text = 'päßwörd that is long enough for HS256 ✓';
    const token = await sign(await hmacKey(new TextEncoder().encode(text)), { alg: 'HS256' }, { exp: 2e9 });
    assertVerdict(await verify(token, { kind: 'secret', text, encoding: 'utf-8' }), 'valid', 'Signature verified');
    assertVerdict(
      await verify(token, { kind: 'secret', text: `${text}\n`, encoding: 'utf-8' }),
      'invalid',
      'invalid signature',
    );
  });

  test('a base64url secret must be strict', async () => {
    const token = rfcCase('rfc7515-A.1-HS256').token;
    const r = await verify(token, { kind: 'secret', text: 'AyM1+ysP==', encoding: 'base64url' });
    assertVerdict(r, 'error', 'invalid key');
  });

  test('an RSA key under 2048 bits is refused', async () => {
    const pair = await subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    const { n, e } = await subtle.exportKey('jwk', pair.publicKey);
    const r = await verify(rfcCase('rfc7515-A.2-RS256').token, jwkSource({ kty: 'RSA', n, e }));
    assertVerdict(r, 'error', 'invalid key');
    assert.equal(r.detail, 'invalid key: RSA key is 1024 bits; at least 2048 are required');
  });

  test('an EC point off the curve is an unusable key, not a crash', async () => {
    const v = rfcCase('rfc7515-A.3-ES256');
    const bad = { ...v.public_key, y: v.public_key.x };
    const r = await verify(v.token, jwkSource(bad), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'error', 'invalid key');
  });

  test('no key, unreadable keys', async () => {
    const token = rfcCase('rfc7515-A.2-RS256').token;
    assertVerdict(await verify(token, { kind: 'jwk', text: '  ' }), 'error', 'no key');
    assertVerdict(await verify(token, { kind: 'jwk', text: '{"kty":' }), 'error', 'invalid key');
    assertVerdict(await verify(token, { kind: 'jwk', text: '[1]' }), 'error', 'invalid key');
    assertVerdict(await verify(token, { kind: 'jwk', text: '{"kty":"RSA","n":"AQAB"}' }), 'error', 'invalid key');
    assertVerdict(await verify(token, { kind: 'jwk', text: '{"keys":5}' }), 'error', 'invalid key');
    assertVerdict(await verify(token, { kind: 'secret', text: '' }), 'error', 'no key');
    assertVerdict(await verify(token, null), 'error', 'no key');
  });
});

describe('JWKS selection', () => {
  const rs = rfcCase('rfc7515-A.2-RS256'); // no kid in the token
  const bilbo = VECTORS.find((x) => x.name.startsWith('RFC 7520 4.1')); // kid bilbo.baggins@…

  test("a kid not in the JWKS: no key matches the token's kid", async () => {
    const set = { keys: [{ ...rs.public_key, kid: 'someone-else' }] };
    const r = await verify(bilbo.token, jwkSource(set));
    assertVerdict(r, 'invalid', "no key matches the token's kid");
    assert.equal(r.detail, 'no matching key: no RS256 key with kid "bilbo.baggins@hobbiton.example"');
  });

  test('the kid picks the key among several', async () => {
    const { kty, n, e, kid } = bilbo.key;
    const set = { keys: [{ ...rs.public_key, kid: 'a' }, { kty, n, e, kid }, { ...rs.public_key, kid: 'b' }] };
    const r = await verify(bilbo.token, jwkSource(set));
    assertVerdict(r, 'valid', 'Signature verified');
    assert.equal(r.key.kid, kid);
  });

  test('a token without kid tries the keys that fit its alg', async () => {
    const { kty, n, e } = bilbo.key;
    const es = rfcCase('rfc7515-A.3-ES256').public_key;
    const set = { keys: [es, { kty, n, e, kid: 'bilbo' }, { ...rs.public_key, kid: 'joe' }] };
    const r = await verify(rs.token, jwkSource(set), { now: BEFORE_RFC_EXP });
    assertVerdict(r, 'valid', 'Signature verified');
    assert.equal(r.key.kid, 'joe');
  });

  test('at most 4 candidates are tried', async () => {
    const secrets = [1, 2, 3, 4, 5].map((i) => new Uint8Array(32).fill(i));
    const right = secrets[4];
    const token = await sign(await hmacKey(right), { alg: 'HS256' }, { exp: 2e9 });
    const jwks = (list) => ({ keys: list.map((s) => ({ kty: 'oct', k: base64urlEncode(s) })) });
    // The right key fifth: never tried.
    assertVerdict(await verify(token, jwkSource(jwks(secrets))), 'invalid', 'invalid signature');
    // Fourth: found.
    const fourth = [secrets[0], secrets[1], secrets[2], right, secrets[3]];
    assertVerdict(await verify(token, jwkSource(jwks(fourth))), 'valid', 'Signature verified');
  });

  test('a token without kid and a set with no key of its alg: no matching key', async () => {
    const r = await verify(rs.token, jwkSource({ keys: [] }));
    assertVerdict(r, 'invalid', 'no matching key');
    assert.equal(r.detail, 'no matching key: no RS256 key');
  });

  test('unreadable members of a set are skipped and named', async () => {
    const set = { keys: [{ kty: 'RSA', kid: 'broken', n: 'AQAB', e: 'AQAB' }, 'not a key'] };
    const r = await verify(bilbo.token, jwkSource(set));
    assertVerdict(r, 'invalid', "no key matches the token's kid");
    assert.match(r.detail, /\(skipped kid "broken": RSA key is 17 bits; .*; a key without kid: a member of `keys` is a string, not a JWK\)$/);
  });
});

describe('this issuer\'s JWKS (a real HTTP server on 127.0.0.1)', () => {
  let server;
  let base;
  const bilbo = VECTORS.find((x) => x.name.startsWith('RFC 7520 4.1'));
  const { kty, n, e, kid } = bilbo.key;
  const requests = [];

  before(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url, method: req.method });
      if (req.url === '/.well-known/jwks.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [{ kty, n, e, kid, use: 'sig', alg: 'RS256' }] }));
      } else if (req.url === '/duplicate/jwks.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"keys":[],"keys":[]}');
      } else {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"server_error"}');
      }
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });

  after(() => new Promise((resolve) => server.close(resolve)));

  test('verifies with the fetched keys, with one GET of the JWKS and nothing else', async () => {
    requests.length = 0;
    const r = await verify(bilbo.token, { kind: 'issuer', url: `${base}/.well-known/jwks.json` });
    assertVerdict(r, 'valid', 'Signature verified');
    assert.deepEqual(r.key, { kty: 'RSA', alg: 'RS256', source: 'issuer', kid, bits: 2048 });
    assert.deepEqual(requests, [{ url: '/.well-known/jwks.json', method: 'GET' }]);
  });

  test('an HTTP error is an error verdict', async () => {
    const r = await verify(bilbo.token, { kind: 'issuer', url: `${base}/broken` });
    assertVerdict(r, 'error', "could not fetch the issuer's keys");
    assert.equal(r.detail, "could not fetch this issuer's keys: HTTP 500");
  });

  test('a JWKS with duplicate members is refused', async () => {
    const r = await verify(bilbo.token, { kind: 'issuer', url: `${base}/duplicate/jwks.json` });
    assertVerdict(r, 'error', 'invalid key');
    assert.match(r.detail, /duplicate member name "keys"/);
  });

  test('a malformed token fetches nothing', async () => {
    requests.length = 0;
    const r = await verify('a.b', { kind: 'issuer', url: `${base}/.well-known/jwks.json` });
    assertVerdict(r, 'invalid', "malformed token: expected 3 segments separated by '.', found 2 (JWE and JSON serialization are not supported)");
    assert.deepEqual(requests, []);
  });
});

describe('times (leeway 30 s)', () => {
  const NOW = 1_800_000_000;
  let key;
  before(async () => {
    key = await es256Pair('k1');
  });
  const check = async (claims, now = NOW) => verify(await sign(key.privateKey, { alg: 'ES256', kid: 'k1' }, claims), jwkSource({ keys: [key.jwk] }), { now });

  test('the default leeway is 30 s', () => {
    assert.equal(DEFAULT_LEEWAY, 30);
  });

  test('exp: valid until exp + 30 s, then expired', async () => {
    assertVerdict(await check({ exp: NOW + 300 }), 'valid', 'Signature verified');
    assertVerdict(await check({ exp: NOW - 29 }), 'valid', 'Signature verified');
    const r = await check({ exp: NOW - 30 });
    assertVerdict(r, 'invalid', 'expired');
    assert.equal(r.detail, 'token expired at 2027-01-15T07:59:30Z (now 2027-01-15T08:00:00Z)');
  });

  test('nbf: not yet valid beyond now + 30 s', async () => {
    assertVerdict(await check({ exp: NOW + 600, nbf: NOW + 30 }), 'valid', 'Signature verified');
    const r = await check({ exp: NOW + 600, nbf: NOW + 31 });
    assertVerdict(r, 'invalid', 'not yet valid');
    assert.equal(r.detail, 'token not valid before 2027-01-15T08:00:31Z (now 2027-01-15T08:00:00Z)');
  });

  test('iat in the future is refused, as by the CLI', async () => {
    assertVerdict(await check({ exp: NOW + 600, iat: NOW + 120 }), 'invalid', 'issued in the future');
  });

  test('a claims set without exp is refused, as by the CLI', async () => {
    assertVerdict(await check({ sub: 'x' }), 'invalid', 'missing required claim `exp`');
  });

  test('a time of the wrong type is an invalid claim', async () => {
    const r = await check({ exp: '1800000600' });
    assertVerdict(r, 'invalid', 'invalid claim');
    assert.equal(r.detail, 'invalid claim `exp`: expected a number of seconds, found a string');
    assertVerdict(await check({ exp: NOW + 600, aud: ['a', 1] }), 'invalid', 'invalid claim');
  });

  test('times are judged only after the signature', async () => {
    const token = await sign(key.privateKey, { alg: 'ES256', kid: 'k1' }, { exp: NOW - 3600 });
    const r = await verify(flipSignatureBit(token), jwkSource(key.jwk), { now: NOW });
    assertVerdict(r, 'invalid', 'invalid signature');
  });

  test('describeTimes: dates and how far they are', () => {
    const lines = describeTimes({ exp: NOW + 300, nbf: NOW - 180, iat: NOW - 180 }, NOW);
    assert.deepEqual(lines, [
      { claim: 'exp', value: NOW + 300, date: '2027-01-15T08:05:00Z', text: 'expires in 5 min', state: 'ok' },
      { claim: 'nbf', value: NOW - 180, date: '2027-01-15T07:57:00Z', text: 'valid since 3 min ago', state: 'ok' },
      { claim: 'iat', value: NOW - 180, date: '2027-01-15T07:57:00Z', text: 'issued 3 min ago', state: 'ok' },
    ]);
    assert.equal(describeTimes({ exp: NOW - 180 }, NOW)[0].text, 'expired 3 min ago');
    assert.equal(describeTimes({ exp: NOW }, NOW)[0].state, 'expired');
    assert.equal(describeTimes({ exp: NOW, nbf: NOW + 90 }, NOW)[1].text, 'not valid yet: valid in 1 min 30 s');
    assert.equal(describeTimes({ sub: 'x' }, NOW)[0].text, 'none: the token never expires');
    assert.equal(describeTimes({ exp: 'soon' }, NOW)[0].state, 'invalid');
    assert.deepEqual(describeTimes('text payload', NOW), []);
  });

  test('span: the two largest units', () => {
    assert.equal(span(0), '0 s');
    assert.equal(span(42), '42 s');
    assert.equal(span(300), '5 min');
    assert.equal(span(7500), '2 h 5 min');
    assert.equal(span(273600), '3 d 4 h');
    assert.equal(span(86400 + 30), '1 d');
  });
});

describe('malformed tokens', () => {
  const hsKey = rfcCase('rfc7515-A.1-HS256').key;
  const good = rfcCase('rfc7515-A.1-HS256').token;
  const [h, p, s] = good.split('.');

  const cases = [
    ['empty', '', 'malformed token: empty token'],
    ['2 parts', `${h}.${p}`, "malformed token: expected 3 segments separated by '.', found 2 (JWE and JSON serialization are not supported)"],
    ['5 parts (JWE)', `${h}.${p}.${s}.x.y`, "malformed token: expected 3 segments separated by '.', found 5 (JWE and JSON serialization are not supported)"],
    ['padding', `${b64json({ alg: 'HS256' })}=.${p}.${s}`, 'malformed token: header is not strict base64url'],
    ['padded signature', `${h}.${p}.${s}=`, 'malformed token: signature is not strict base64url'],
    ['standard base64 alphabet', `${h}.${p}.${s.replace(/[-_]/g, '+')}`, 'malformed token: signature is not strict base64url'],
    ['non-canonical trailing bits', `${h}.${p}.${s.slice(0, -1)}l`, 'malformed token: signature is not strict base64url'],
    ['whitespace', `${h}.${p}\n.${s}`, 'malformed token: token contains whitespace'],
    ['empty header', `.${p}.${s}`, 'malformed token: empty header segment'],
    ['bad JSON header', `${b64text('{"alg":"HS256"')}.${p}.${s}`, "malformed token: header: expected ',' or '}', unexpected end of input at character 15"],
    ['non-object header', `${b64text('["HS256"]')}.${p}.${s}`, 'malformed token: header: expected a JSON object, found an array'],
    ['string header', `${b64text('"HS256"')}.${p}.${s}`, 'malformed token: header: expected a JSON object, found a string'],
    ['duplicate alg', `${b64text('{"alg":"none","alg":"HS256"}')}.${p}.${s}`, 'malformed token: header: duplicate member name "alg" at character 15'],
    ['header not UTF-8', `${base64urlEncode(new Uint8Array([0x7b, 0xff, 0x7d]))}.${p}.${s}`, 'malformed token: header: not UTF-8'],
    ['payload not base64url', `${h}.${p}*.${s}`, 'malformed token: payload is not strict base64url'],
    ['empty signature', `${h}.${p}.`, 'malformed token: empty signature'],
  ];

  for (const [name, token, reason] of cases) {
    test(`${name}: ${reason}`, async () => {
      const r = await verify(token, jwkSource(hsKey), { now: BEFORE_RFC_EXP });
      assertVerdict(r, 'invalid', reason);
    });
  }

  test('too large: the limit is 16 KiB', async () => {
    const token = `${h}.${'A'.repeat(16 * 1024)}.${s}`;
    const r = await verify(token, jwkSource(hsKey));
    assertVerdict(r, 'invalid', `token too large: ${token.length} bytes, the limit is 16384`);
  });

  test('decode throws the same message', () => {
    assert.throws(() => decode(`${h}.${p}`), { message: /^malformed token: expected 3 segments/ });
    assert.throws(() => decode(`${b64text('[]')}.${p}.${s}`), { message: 'malformed token: header: expected a JSON object, found an array' });
  });

  test('decode shows an unsigned token (alg none), which verify then refuses', async () => {
    const v = rfcCase('rfc7515-A.5-none');
    const d = decode(v.token);
    assert.deepEqual(d.header, { alg: 'none' });
    assert.equal(d.payloadKind, 'claims');
    assert.equal(d.signature.length, 0);
  });

  test('a payload with duplicate member names is refused after the signature', async () => {
    const secret = base64urlDecode(hsKey.k);
    const token = await sign(await hmacKey(secret), { alg: 'HS256' }, '{"exp":1,"exp":2000000000}');
    const d = decode(token);
    assert.equal(d.payloadKind, 'text');
    const r = await verify(token, jwkSource(hsKey));
    assertVerdict(r, 'invalid', 'invalid claims');
    assert.match(r.detail, /^invalid claims: duplicate member name "exp"/);
  });

  test('a payload that is JSON but not an object is a plain JWS', async () => {
    const secret = base64urlDecode(hsKey.k);
    const token = await sign(await hmacKey(secret), { alg: 'HS256' }, '[1,2]');
    const r = await verify(token, jwkSource(hsKey));
    assertVerdict(r, 'valid', 'Signature verified');
    assert.equal(r.payloadKind, 'json');
    assert.deepEqual(r.payload, [1, 2]);
  });

  test('an unknown critical header parameter (RFC 7515 E) is refused', async () => {
    const secret = base64urlDecode(hsKey.k);
    const header = '{"alg":"HS256","crit":["http://example.com/UNDEFINED"],"http://example.com/UNDEFINED":true}';
    const token = await sign(await hmacKey(secret), header, { exp: 2e9 });
    const r = await verify(token, jwkSource(hsKey));
    assertVerdict(r, 'invalid', 'unsupported critical header parameter');
    assert.equal(r.detail, 'unsupported critical header parameter: http://example.com/UNDEFINED');
  });
});

describe('strict JSON and base64url', () => {
  test('__proto__ is an ordinary member', () => {
    const v = parseStrictJson('{"__proto__":{"polluted":true},"a":1}');
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__', 'a']);
    assert.equal({}.polluted, undefined);
  });

  test('what RFC 8259 refuses is refused', () => {
    for (const text of ['{"a":1,}', "{'a':1}", '{"a":01}', '{"a":NaN}', '{"a":1e999}', '{"a":"\u0001"}', '{"a":"\\ud800"}', '\ufeff{}', '{} x', '[1,]']) {
      assert.throws(() => parseStrictJson(text), Error, JSON.stringify(text));
    }
  });

  test('escapes and nesting', () => {
    assert.deepEqual(parseStrictJson('{"a":"\\u00e9\\ud83d\\ude00\\n","b":[true,false,null,-1.5e2]}'), {
      a: 'é😀\n',
      b: [true, false, null, -150],
    });
    assert.doesNotThrow(() => parseStrictJson(`${'['.repeat(32)}${']'.repeat(32)}`));
    assert.throws(() => parseStrictJson(`${'['.repeat(33)}${']'.repeat(33)}`), /nested deeper than 32/);
  });

  test('base64url round trip and strictness', () => {
    for (let len = 0; len < 8; len += 1) {
      const bytes = new Uint8Array(len).map((_, i) => (i * 97 + 13) & 0xff);
      const text = base64urlEncode(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64url'));
      assert.deepEqual(base64urlDecode(text), bytes);
    }
    assert.equal(base64urlDecode('AQAB=='), null);
    assert.equal(base64urlDecode('A'), null);
    assert.equal(base64urlDecode('QR'), null, 'non-zero trailing bits');
    assert.deepEqual(base64urlDecode('QQ'), new Uint8Array([0x41]));
  });
});
