-- Login throttle buckets, shared by every instance on this database (see the server's
-- `throttle` module). One row per bucket: `key` is the SHA-256 of the bucket's name (an
-- account, an address, or an account and an address), so that a long username as typed
-- never makes a long row; `tat` is the GCRA "theoretical arrival time" (UNIX seconds). A row
-- whose `tat` has passed holds nothing (its bucket is full again) and is purged.
CREATE TABLE throttle_buckets (
    key BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(key) = 32),
    tat BIGINT NOT NULL
);
CREATE INDEX throttle_buckets_by_tat ON throttle_buckets (tat);
