-- tessera store, SQLite. Times are UNIX seconds (INTEGER); ids are random UUIDs (TEXT);
-- lists of strings are JSON arrays (TEXT). STRICT tables enforce the declared types.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    -- A PHC string (argon2id) made by the server; NULL: no password login (e.g. Google only).
    password_hash TEXT,
    roles         TEXT    NOT NULL DEFAULT '[]',
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE external_identities (
    issuer         TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    created_at     INTEGER NOT NULL,
    last_login_at  INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX external_identities_by_user ON external_identities (user_id);

CREATE TABLE clients (
    client_id   TEXT    NOT NULL PRIMARY KEY,
    secret_hash TEXT,
    name        TEXT    NOT NULL,
    scopes      TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE refresh_families (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       TEXT    REFERENCES clients (client_id) ON DELETE CASCADE,
    scopes          TEXT    NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    idle_ttl        INTEGER NOT NULL CHECK (idle_ttl > 0),
    idle_expires_at INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT,
    user_agent      TEXT,
    client_address  TEXT
) STRICT;
CREATE INDEX refresh_families_by_user ON refresh_families (user_id);
CREATE INDEX refresh_families_by_client ON refresh_families (client_id);

-- Only SHA-256 hashes of refresh tokens are stored, never the tokens.
CREATE TABLE refresh_tokens (
    token_hash  BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    family_id   TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    replaced_by BLOB,
    CHECK ((used_at IS NULL) = (replaced_by IS NULL))
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
-- At most one live (unused) token per family: one chain, whatever the concurrency.
CREATE UNIQUE INDEX refresh_tokens_one_live_per_family ON refresh_tokens (family_id)
    WHERE used_at IS NULL;

-- Private keys only encrypted (by the server, under a master key); the store sees ciphertext.
CREATE TABLE signing_keys (
    kid                    TEXT    NOT NULL PRIMARY KEY,
    alg                    TEXT    NOT NULL,
    state                  TEXT    NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key_ciphertext BLOB    NOT NULL,
    private_key_nonce      BLOB    NOT NULL,
    master_key_id          TEXT    NOT NULL,
    public_jwk             TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    activated_at           INTEGER,
    retired_at             INTEGER,
    delete_after           INTEGER
) STRICT;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';

-- Leases that several instances agree on (the key-rotation lock). A released or expired lease
-- keeps its row so that `fence` only ever grows.
CREATE TABLE locks (
    name        TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT,
    fence       INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
