// A small OpenID Connect provider for the end-to-end tests of "Sign in with <provider>": the
// authorization code flow with PKCE (S256), an ES256-signed ID token and its JWKS. Node's
// http and crypto only.
//
// It listens on 127.0.0.1 but calls itself `http://localhost:PORT`: to the browser that is
// another site than tessera at http://127.0.0.1:PORT, so the trip through it is a real
// cross-site redirect chain (what the SameSite attributes of tessera's cookies are about).
//
// | endpoint | what |
// |---|---|
// | GET /.well-known/openid-configuration | the discovery document |
// | GET /authorize | checks the request, shows a page with "Continue" and "Deny" buttons |
// | POST /authorize/decision | 302 back to redirect_uri with code+state, or error=access_denied+state |
// | POST /token | redeems a code once (grant_type, redirect_uri, PKCE verifier, client auth) |
// | GET /jwks | the signing key |
//
// What it saw is kept in `provider.log` (one entry per request, with what it refused and why)
// so that a test can show it when the flow goes wrong.

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

/** How long a code may wait before it is redeemed, ms. */
const CODE_LIFETIME_MS = 60_000;
/** How long an ID token is valid, s. */
const ID_TOKEN_LIFETIME_S = 300;
/** Longest request body read, bytes. */
const MAX_BODY = 64 * 1024;

const b64u = (data) => Buffer.from(data).toString('base64url');
const random = () => randomBytes(32).toString('base64url');

/** `application/x-www-form-urlencoded` decoding of one component (`+` is a space). */
function formDecode(value) {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/** HTML-escapes a string for text and attribute values. */
function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function json(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

/**
 * Starts a fake provider.
 *
 * @param {object} options
 * @param {string} options.clientId the client id tessera has here (the ID token's `aud`)
 * @param {string} [options.clientSecret] when set, /token requires it (HTTP Basic, RFC 6749 §2.3.1)
 * @param {string} [options.subject] the `sub` of the person who signs in
 * @param {string} [options.email] their e-mail (sent with `email_verified: true`)
 * @returns {Promise<FakeProvider>}
 */
export async function startFakeProvider({
  clientId,
  clientSecret,
  subject = 'fake-subject-1',
  email = 'ada@example.com',
}) {
  const provider = new FakeProvider({ clientId, clientSecret, subject, email });
  await provider.listen();
  return provider;
}

/** A running fake provider. */
export class FakeProvider {
  constructor({ clientId, clientSecret, subject, email }) {
    this.clientId = clientId;
    this.clientSecret = clientSecret;
    this.subject = subject;
    this.email = email;
    /** Every request and what was done with it: {method, path, outcome}. */
    this.log = [];
    /** The ID tokens handed out. */
    this.idTokens = [];
    /** Pending authorization requests, by the id the consent page posts back. */
    this.pending = new Map();
    /** Issued codes: code → {clientId, redirectUri, challenge, nonce, expires}. */
    this.codes = new Map();
    this.kid = `fake-${random().slice(0, 8)}`;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    this.jwk = {
      ...createPublicKey(privateKey).export({ format: 'jwk' }),
      kid: this.kid,
      use: 'sig',
      alg: 'ES256',
    };
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        this.note(req, `500: ${e.message}`);
        if (!res.headersSent) json(res, 500, { error: 'server_error' });
        else res.destroy();
      });
    });
  }

  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    /** The issuer, as the browser and tessera address it: another site than 127.0.0.1. */
    this.issuer = `http://localhost:${this.port}`;
  }

  /**
   * Who signs in from now on (the `sub` and e-mail of the next ID tokens and the consent page):
   * a test that needs an outside account of its own sets it before its trip to the provider.
   */
  signInAs({ subject, email }) {
    this.subject = subject;
    this.email = email;
  }

  /** Stops listening and drops open connections. */
  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  note(req, outcome) {
    this.log.push({ method: req.method, path: new URL(req.url, this.issuer).pathname, outcome });
  }

  /** The log, one line per request, for an assertion message. */
  describeLog() {
    return this.log.map((e) => `${e.method} ${e.path}: ${e.outcome}`).join('\n');
  }

  async handle(req, res) {
    const url = new URL(req.url, this.issuer);
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        this.note(req, 'discovery');
        return json(res, 200, {
          issuer: this.issuer,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          jwks_uri: `${this.issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: [this.clientSecret ? 'client_secret_basic' : 'none'],
          scopes_supported: ['openid', 'email', 'profile'],
        });
      case 'GET /jwks':
        this.note(req, 'jwks');
        return json(res, 200, { keys: [this.jwk] });
      case 'GET /authorize':
        return this.authorize(req, res, url.searchParams);
      case 'POST /authorize/decision':
        return this.decide(req, res, new URLSearchParams(await readBody(req)));
      case 'POST /token':
        return this.token(req, res, await readBody(req));
      case 'GET /favicon.ico':
        res.writeHead(204);
        return res.end();
      default:
        this.note(req, '404');
        return json(res, 404, { error: 'not_found' });
    }
  }

  /** GET /authorize: the request is checked (a bad one is never redirected), then the consent page. */
  authorize(req, res, q) {
    const refuse = (why) => {
      this.note(req, `refused: ${why}`);
      send(res, 400, 'text/plain; charset=utf-8', `bad authorization request: ${why}\n`);
    };
    for (const name of ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method']) {
      if (q.getAll(name).length !== 1 || !q.get(name)) return refuse(`${name} missing or repeated`);
    }
    if (q.get('response_type') !== 'code') return refuse('response_type is not code');
    if (q.get('client_id') !== this.clientId) return refuse(`unknown client_id ${q.get('client_id')}`);
    if (!q.get('scope').split(' ').includes('openid')) return refuse('scope lacks openid');
    if (q.get('code_challenge_method') !== 'S256') return refuse('code_challenge_method is not S256');
    if (!/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge'))) return refuse('code_challenge is not 43 base64url characters');
    let redirect;
    try {
      redirect = new URL(q.get('redirect_uri'));
    } catch {
      return refuse('redirect_uri is not a URL');
    }
    if (redirect.protocol !== 'http:' || redirect.hostname !== '127.0.0.1') return refuse('redirect_uri is not on 127.0.0.1');
    const id = random();
    this.pending.set(id, {
      redirectUri: q.get('redirect_uri'),
      state: q.get('state'),
      nonce: q.get('nonce'),
      challenge: q.get('code_challenge'),
      scope: q.get('scope'),
    });
    this.note(req, 'consent page');
    send(
      res,
      200,
      'text/html; charset=utf-8',
      `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake provider: sign in</title></head>
<body>
<h1>Fake provider</h1>
<p id="request">${esc(q.get('client_id'))} asks for: ${esc(q.get('scope'))}</p>
<form method="post" action="/authorize/decision">
<input type="hidden" name="request" value="${esc(id)}">
<button id="continue" name="decision" value="allow">Continue as ${esc(this.email)}</button>
<button id="deny" name="decision" value="deny">Deny</button>
</form>
</body></html>
`,
    );
  }

  /** POST /authorize/decision: back to tessera's callback (302, as providers do after their form). */
  decide(req, res, form) {
    const pending = this.pending.get(form.get('request') ?? '');
    if (!pending) {
      this.note(req, 'refused: unknown request');
      return send(res, 400, 'text/plain; charset=utf-8', 'unknown authorization request\n');
    }
    this.pending.delete(form.get('request'));
    const back = new URL(pending.redirectUri);
    if (form.get('decision') === 'allow') {
      const code = random();
      this.codes.set(code, { ...pending, expires: Date.now() + CODE_LIFETIME_MS });
      back.searchParams.set('code', code);
      this.note(req, 'allowed: code issued');
    } else {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The person declined.');
      this.note(req, 'denied: error=access_denied');
    }
    back.searchParams.set('state', pending.state);
    res.writeHead(302, { location: back.href, 'cache-control': 'no-store' });
    res.end();
  }

  /** POST /token: RFC 6749 §4.1.3 with RFC 7636 §4.6. */
  token(req, res, body) {
    const refuse = (status, error, why) => {
      this.note(req, `refused (${error}): ${why}`);
      const headers = status === 401 ? { 'www-authenticate': 'Basic realm="fake"' } : {};
      send(res, status, 'application/json', JSON.stringify({ error, error_description: why }), headers);
    };
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      return refuse(400, 'invalid_request', 'the body is not form-urlencoded');
    }
    const form = new URLSearchParams(body);
    for (const name of ['grant_type', 'code', 'redirect_uri', 'code_verifier']) {
      if (form.getAll(name).length !== 1) return refuse(400, 'invalid_request', `${name} missing or repeated`);
    }
    // Client authentication: HTTP Basic of the form-urlencoded id and secret when there is a secret.
    let clientId = form.get('client_id');
    if (this.clientSecret) {
      const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
      if (!m) return refuse(401, 'invalid_client', 'no HTTP Basic client authentication');
      const decoded = Buffer.from(m[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return refuse(401, 'invalid_client', 'malformed Basic credentials');
      const id = formDecode(decoded.slice(0, colon));
      const secret = formDecode(decoded.slice(colon + 1));
      if (id !== this.clientId || secret !== this.clientSecret) {
        return refuse(401, 'invalid_client', 'wrong client id or secret');
      }
      if (clientId !== null && clientId !== id) return refuse(400, 'invalid_request', 'client_id differs from the authenticated one');
      clientId = id;
    }
    if (clientId !== this.clientId) return refuse(401, 'invalid_client', `unknown client_id ${clientId}`);
    if (form.get('grant_type') !== 'authorization_code') {
      return refuse(400, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);
    }
    const code = form.get('code');
    const grant = this.codes.get(code);
    // A code is used once, whatever happens next.
    this.codes.delete(code);
    if (!grant || grant.expires < Date.now()) return refuse(400, 'invalid_grant', 'unknown, used or expired code');
    if (form.get('redirect_uri') !== grant.redirectUri) return refuse(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
    const challenge = createHash('sha256').update(form.get('code_verifier')).digest('base64url');
    if (challenge !== grant.challenge) return refuse(400, 'invalid_grant', 'code_verifier does not match the code_challenge');

    const now = Math.floor(Date.now() / 1000);
    const idToken = this.signIdToken({
      iss: this.issuer,
      aud: this.clientId,
      sub: this.subject,
      email: this.email,
      email_verified: true,
      iat: now,
      exp: now + ID_TOKEN_LIFETIME_S,
      nonce: grant.nonce,
    });
    this.idTokens.push(idToken);
    this.note(req, 'tokens issued');
    return json(res, 200, {
      id_token: idToken,
      access_token: random(),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: grant.scope,
    });
  }

  /** An ES256 JWS (JOSE signature: r‖s, 64 bytes). */
  signIdToken(claims) {
    const header = { alg: 'ES256', typ: 'JWT', kid: this.kid };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64u(signature)}`;
  }
}
