-- 0001-init.sql: the first schema of Maison.
--
-- Applied by mz_store_open inside one transaction, under an advisory lock,
-- and recorded in schema_version. Never edit a migration that has shipped:
-- add the next NNNN-*.sql instead.

-- The event log: append-only, the source of truth. seq is a time-ordered
-- identity (a random key would slow inserts as the index grows); event_id
-- is unique so a retried POST is a no-op.
CREATE TABLE events (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,
    client_id   text NOT NULL,
    item_id     text,
    type        text NOT NULL,
    ts          timestamptz NOT NULL,
    channel     text,
    value       double precision NOT NULL DEFAULT 0,
    quantity    integer NOT NULL DEFAULT 1,
    dwell_ms    integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now()
);
-- Replaying one client after its persisted seq; erasing a client.
CREATE INDEX events_client_seq ON events (client_id, seq);

-- The catalog. ord fixes the load order, hence the catalog indices, across
-- restarts; an upsert keeps the row and so its ord.
CREATE TABLE items (
    item_id    text PRIMARY KEY,
    ord        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    doc        jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Brand rules, versioned: a change is a new row, the current rules of a
-- brand are its highest version, and older versions stay for audit.
CREATE TABLE brand_rules (
    brand      text NOT NULL,
    version    bigint NOT NULL CHECK (version > 0),
    doc        jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (brand, version)
);

-- Tier, region, consent: what the API is told about a client.
CREATE TABLE client_attributes (
    client_id  text PRIMARY KEY,
    doc        jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A client's consolidated levels as of log position seq. A row is only
-- replaced by a state with a seq at least as new, so a stale writer
-- cannot clobber a newer one.
CREATE TABLE client_state (
    client_id  text PRIMARY KEY,
    state      bytea NOT NULL,
    seq        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The global level's snapshot as of log position seq; exactly one row.
CREATE TABLE checkpoint (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq        bigint NOT NULL,
    global     bytea,
    written_at timestamptz NOT NULL DEFAULT now()
);

-- Items shown to a client, for frequency caps ("at most N times a day").
CREATE TABLE impressions (
    client_id text NOT NULL,
    item_id   text NOT NULL,
    shown_at  timestamptz NOT NULL
);
CREATE INDEX impressions_client ON impressions (client_id, shown_at);
CREATE INDEX impressions_shown_at ON impressions (shown_at);
