-- A compromised signing key can be revoked (`tessera key revoke KID`): state 'revoked', out of
-- the JWKS at once, its private key erased, its row kept so that `tessera key list` shows it.
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check
    CHECK (state IN ('next', 'active', 'retired', 'revoked'));
