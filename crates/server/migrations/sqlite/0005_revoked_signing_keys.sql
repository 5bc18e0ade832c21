-- A compromised signing key can be revoked (`tessera key revoke KID`): state 'revoked', out of
-- the JWKS at once, its private key erased, its row kept so that `tessera key list` shows it.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (same columns).
CREATE TABLE signing_keys_0005 (
    kid                    TEXT    NOT NULL PRIMARY KEY,
    alg                    TEXT    NOT NULL,
    state                  TEXT    NOT NULL CHECK (state IN ('next', 'active', 'retired', 'revoked')),
    private_key_ciphertext BLOB    NOT NULL,
    private_key_nonce      BLOB    NOT NULL,
    master_key_id          TEXT    NOT NULL,
    public_jwk             TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    activated_at           INTEGER,
    retired_at             INTEGER,
    delete_after           INTEGER
) STRICT;
INSERT INTO signing_keys_0005 (kid, alg, state, private_key_ciphertext, private_key_nonce,
    master_key_id, public_jwk, created_at, activated_at, retired_at, delete_after)
SELECT kid, alg, state, private_key_ciphertext, private_key_nonce, master_key_id, public_jwk,
    created_at, activated_at, retired_at, delete_after
FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_0005 RENAME TO signing_keys;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
