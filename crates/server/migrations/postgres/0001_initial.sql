-- tessera store, PostgreSQL. Times are UNIX seconds (BIGINT); ids are random UUIDs (TEXT);
-- lists of strings are JSON arrays (TEXT), as in the SQLite schema.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    -- A PHC string (argon2id) made by the server; NULL: no password login (e.g. Google only).
    password_hash TEXT,
    roles         TEXT    NOT NULL DEFAULT '[]',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE external_identities (
    issuer         TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    last_login_at  BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_by_user ON external_identities (user_id);

CREATE TABLE clients (
    client_id   TEXT   NOT NULL PRIMARY KEY,
    secret_hash TEXT,
    name        TEXT   NOT NULL,
    scopes      TEXT   NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL
);

CREATE TABLE refresh_families (
    id              TEXT   NOT NULL PRIMARY KEY,
    user_id         TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       TEXT   REFERENCES clients (client_id) ON DELETE CASCADE,
    scopes          TEXT   NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    idle_ttl        BIGINT NOT NULL CHECK (idle_ttl > 0),
    idle_expires_at BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT,
    user_agent      TEXT,
    client_address  TEXT
);
CREATE INDEX refresh_families_by_user ON refresh_families (user_id);
CREATE INDEX refresh_families_by_client ON refresh_families (client_id);

-- Only SHA-256 hashes of refresh tokens are stored, never the tokens.
CREATE TABLE refresh_tokens (
    token_hash  BYTEA  NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    family_id   TEXT   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    replaced_by BYTEA,
    CHECK ((used_at IS NULL) = (replaced_by IS NULL))
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
-- At most one live (unused) token per family: one chain, whatever the concurrency.
CREATE UNIQUE INDEX refresh_tokens_one_live_per_family ON refresh_tokens (family_id)
    WHERE used_at IS NULL;

-- Private keys only encrypted (by the server, under a master key); the store sees ciphertext.
CREATE TABLE signing_keys (
    kid                    TEXT   NOT NULL PRIMARY KEY,
    alg                    TEXT   NOT NULL,
    state                  TEXT   NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key_ciphertext BYTEA  NOT NULL,
    private_key_nonce      BYTEA  NOT NULL,
    master_key_id          TEXT   NOT NULL,
    public_jwk             TEXT   NOT NULL,
    created_at             BIGINT NOT NULL,
    activated_at           BIGINT,
    retired_at             BIGINT,
    delete_after           BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';

-- Leases that several instances agree on (the key-rotation lock). A released or expired lease
-- keeps its row so that `fence` only ever grows.
CREATE TABLE locks (
    name        TEXT   NOT NULL PRIMARY KEY,
    holder      TEXT,
    fence       BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
