-- API keys. The secret itself is never stored: secret_hash is the hex
-- BLAKE2b-256 (libsodium's crypto_generichash) of its 32 random bytes.
-- roles and brands are arrays of names; brands {'*'} is every brand. A
-- revoked key keeps its row (revoked_at set), so its id is never reused
-- and "no key at all" means no key was ever made.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    name text NOT NULL,
    secret_hash text NOT NULL,
    roles text[] NOT NULL,
    brands text[] NOT NULL,
    rate_requests_per_s double precision,
    rate_burst integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
