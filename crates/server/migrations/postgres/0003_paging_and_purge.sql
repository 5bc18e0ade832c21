-- Issue 9 (storage stays bounded): the admin client list is paged by (name, client_id), and the
-- scheduled purge deletes used refresh tokens by expiry without reading the whole table.
CREATE INDEX clients_by_name ON clients (name, client_id);
CREATE INDEX refresh_tokens_used_by_expiry ON refresh_tokens (expires_at)
    WHERE used_at IS NOT NULL;
