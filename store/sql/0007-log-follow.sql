-- 0007-log-follow.sql: the event log as the one order of every change,
-- and checkpoints per node (docs/several-nodes.md).
--
-- A change of the catalog, a brand's rules, a client's attributes, the
-- keys, or an erasure appends a marker row to events in the transaction
-- that makes it (type 'change.*', client_id '' except for attributes),
-- so every node puts it in force at the same place of the log. The
-- marker carries what a node needs to apply it: the document written
-- (payload) and, for rules, the version.
ALTER TABLE events ADD COLUMN payload text, ADD COLUMN version bigint;

-- Each node checkpoints its own copy of the learned state: a node's
-- checkpoint is one log position of its own, and its client records are
-- as of that position, so no node's record can be replaced by another's
-- of another position. A node joining adopts the newest node's copy.
-- Rows of an installation from before this migration belong to node ''
-- until a node adopts them.
ALTER TABLE client_state ADD COLUMN node text NOT NULL DEFAULT '';
ALTER TABLE client_state DROP CONSTRAINT client_state_pkey;
ALTER TABLE client_state ADD PRIMARY KEY (node, client_id);
ALTER TABLE client_state ALTER COLUMN node DROP DEFAULT;
CREATE INDEX client_state_client ON client_state (client_id);

ALTER TABLE checkpoint ADD COLUMN node text NOT NULL DEFAULT '';
ALTER TABLE checkpoint DROP COLUMN id;
ALTER TABLE checkpoint ADD PRIMARY KEY (node);
ALTER TABLE checkpoint ALTER COLUMN node DROP DEFAULT;

-- Erasures, by the client's keyed digest (never its id) and the log
-- position of the erasure: a checkpoint may write a record of that
-- client only from a later position, so a node that had not yet applied
-- the erasure cannot write the client back.
CREATE TABLE erasures (
    digest    text PRIMARY KEY,
    seq       bigint NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now()
);

-- Each node's applied log position, written by its event writer a few
-- times a second: an erasure waits until every node seen lately has
-- applied it, and operators see each node's lag.
CREATE TABLE nodes (
    node        text PRIMARY KEY,
    applied_seq bigint NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
