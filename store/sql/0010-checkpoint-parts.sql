-- 0010-checkpoint-parts.sql: the global level's snapshot is stored in
-- parts, written before the checkpoint that names it.
--
-- A checkpoint used to send the snapshot (tens of megabytes; 87 MB after
-- the bench's million events) as one value in its transaction. Its
-- PostgreSQL backend then wrote it in one burst of CPU and WAL, 1.7-3.0 s
-- beside ingestion, and the recommendations of those seconds had most of
-- the slow answers of the stall bench (docs/durability.md). In parts of
-- 1 MB, each its own statement, maisond can pace the write over part of
-- the checkpoint interval. The parts of one snapshot share an id; the
-- checkpoint row names the id it stands for, so parts written for a
-- checkpoint that never committed (a crash, a failed write) are never
-- read, and the next checkpoint of the node deletes them.
CREATE SEQUENCE checkpoint_snapshot_id;

CREATE TABLE checkpoint_part (
    node     text    NOT NULL,
    snapshot bigint  NOT NULL,
    part     integer NOT NULL CHECK (part >= 0),
    bytes    bytea   NOT NULL,
    PRIMARY KEY (node, snapshot, part)
);
-- Floats do not compress: no pglz attempt (as 0008 did for the column
-- this replaces).
ALTER TABLE checkpoint_part ALTER COLUMN bytes SET STORAGE EXTERNAL;

ALTER TABLE checkpoint ADD COLUMN snapshot bigint;
UPDATE checkpoint SET snapshot = nextval('checkpoint_snapshot_id')
    WHERE global IS NOT NULL;
INSERT INTO checkpoint_part (node, snapshot, part, bytes)
    SELECT node, snapshot, 0, global FROM checkpoint WHERE global IS NOT NULL;
ALTER TABLE checkpoint DROP COLUMN global;
