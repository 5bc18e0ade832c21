// A real `tessera serve` for the end-to-end tests: the debug binary cargo built, on
// 127.0.0.1:<free port>, with a fresh temporary directory holding its SQLite database and
// master key. Every wait has a deadline, so a test can fail but never hang.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The tessera binary: $TESSERA_BIN (relative to the repository root if relative), else the debug build. */
export function tesseraBin() {
  return path.resolve(REPO_ROOT, process.env.TESSERA_BIN || 'target/debug/tessera');
}

/** Default password of the users the tests create (any non-empty password is accepted). */
export const PASSWORD = 'correct horse battery staple';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const CLI_TIMEOUT_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;

/** A port nobody listens on right now (the server binds it a moment later; a clash is retried). */
async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** The parent's environment without any TESSERA_* variable (tessera refuses unknown ones). */
function baseEnv() {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TESSERA_')) env[name] = value;
  }
  return env;
}

/**
 * Runs `tessera ARGS…` with the server's environment; resolves with {code, stdout, stderr}.
 * Killed after `timeoutMs`.
 */
function runCli(env, args, { input = '', timeoutMs = CLI_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(tesseraBin(), args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tessera ${args.join(' ')}: no answer after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(input);
  });
}

/** Waits for a child process to exit, at most `ms`; true when it did. */
function exited(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

/**
 * Starts a tessera issuer.
 *
 * @param {object} [options]
 * @param {string} [options.accessTtl] access token lifetime (`TESSERA_TOKENS__ACCESS_TTL`), e.g. "4s"
 * @param {Record<string,string>} [options.env] more TESSERA_* settings (they win over the defaults here)
 * @param {{name: string, password?: string, roles?: string[]}[]} [options.users] users to create
 * @returns {Promise<Server>}
 */
export async function startServer({ accessTtl = '15m', env = {}, users = [] } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-e2e-'));
  try {
    const masterKey = path.join(dir, 'master.key');
    await writeFile(masterKey, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    let lastError;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const serverEnv = {
        ...baseEnv(),
        RUST_LOG: process.env.E2E_RUST_LOG || 'warn',
        TESSERA_DATABASE_URL: `sqlite://${path.join(dir, 'tessera.db')}`,
        TESSERA_MASTER_KEY_FILE: masterKey,
        TESSERA_ISSUER: url,
        TESSERA_LISTEN: `127.0.0.1:${port}`,
        TESSERA_KEYS__ALGORITHM: 'ES256',
        // The smallest argon2id the configuration accepts: hashing is not under test here.
        TESSERA_PASSWORDS__MEMORY_KIB: '8',
        TESSERA_PASSWORDS__ITERATIONS: '1',
        TESSERA_PASSWORDS__PARALLELISM: '1',
        TESSERA_TOKENS__ACCESS_TTL: accessTtl,
        ...env,
      };
      let server;
      try {
        server = await launch(dir, url, serverEnv);
      } catch (e) {
        lastError = e;
        // Only a port taken between the probe and the bind is worth another try.
        if (!/address already in use|AddrInUse|os error 98/i.test(String(e.message))) throw e;
        continue;
      }
      try {
        for (const user of users) await server.addUser(user.name, user);
      } catch (e) {
        await server.stop({ keepDir: true });
        throw e;
      }
      return server;
    }
    throw lastError;
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function launch(dir, url, env) {
  const child = spawn(tesseraBin(), ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => { output = (output + d).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const spawnFailed = new Promise((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => {});

  const server = new Server(dir, url, env, child, () => output);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`tessera serve exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
    }
    if (Date.now() > deadline) {
      await server.stop({ keepDir: true });
      throw new Error(`tessera serve was not ready after ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    try {
      const res = await Promise.race([
        fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }),
        spawnFailed,
      ]);
      if (res.ok) return server;
    } catch (e) {
      if (e && e.code === 'ENOENT') {
        throw new Error(`${tesseraBin()} not found: build it with cargo build -p tessera, or set TESSERA_BIN`);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A running `tessera serve` and its temporary directory. */
export class Server {
  constructor(dir, url, env, child, output) {
    /** Temporary directory (database, master key). */
    this.dir = dir;
    /** Base URL, also the issuer: http://127.0.0.1:PORT. */
    this.url = url;
    /** The environment the server runs with (the CLI commands get the same). */
    this.env = env;
    this.child = child;
    this.output = output;
  }

  /** Runs a `tessera` command against this server's database; throws on a non-zero exit. */
  async cli(args, options) {
    const result = await runCli(this.env, args, options);
    if (result.code !== 0) {
      throw new Error(`tessera ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    }
    return result;
  }

  /** `tessera user add NAME [--role R]… --password-stdin`. */
  async addUser(name, { password = PASSWORD, roles = [] } = {}) {
    await this.cli(['user', 'add', name, ...roles.flatMap((r) => ['--role', r]), '--password-stdin'], {
      input: `${password}\n`,
    });
  }

  /** `tessera user disable NAME`. */
  async disableUser(name) {
    await this.cli(['user', 'disable', name]);
  }

  /** `fetch` against this server, with a deadline. */
  fetch(pathname, init = {}) {
    return fetch(new URL(pathname, this.url), { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), ...init });
  }

  /** The pinned JSON `POST /login`: resolves with {access_token, refresh_token, expires_in, …}. */
  async login(username, password = PASSWORD) {
    const res = await this.fetch('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`POST /login ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  /** The published JWKS. */
  async jwks() {
    const res = await this.fetch('/.well-known/jwks.json');
    if (!res.ok) throw new Error(`GET /.well-known/jwks.json: ${res.status}`);
    return res.json();
  }

  /** Stops the server (SIGTERM, then SIGKILL after a while) and removes its directory. */
  async stop({ keepDir = false } = {}) {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await exited(child, STOP_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        await exited(child, STOP_TIMEOUT_MS);
      }
    }
    if (!keepDir) await rm(this.dir, { recursive: true, force: true });
  }
}
