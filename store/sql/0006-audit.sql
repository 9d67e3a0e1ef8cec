-- The audit log: one row per change made through the API or the keys
-- command, written in the same transaction as the change it records.
-- key_id is the caller's key ("cli": `maisond keys`; "maisond": the first
-- start's admin key). target names what changed: an item id, a brand, a
-- key id, or a client id; an erased client's rows hold only "digest:" and
-- the hex keyed BLAKE2b of its id (see docs/audit.md). version is the
-- rules version or the event log position of a consent marker, else NULL.
-- detail is a small JSON object (a batch's size, a new key's roles), never
-- a secret.
CREATE TABLE audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    key_id  text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL,
    version bigint,
    detail  jsonb
);
-- A client's rows: the export, and the erasure's rewrite to the digest.
CREATE INDEX audit_target ON audit (target, id);
CREATE INDEX audit_at ON audit (at, id);

-- The installation's audit key (32 random bytes, made by the first
-- maisond to start, randombytes_buf): every node digests an erased
-- client's id with it, so the digests agree. Exactly one row; never
-- returned by any API.
CREATE TABLE audit_key (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    key bytea NOT NULL CHECK (length(key) = 32)
);
