-- 0008-checkpoint-uncompressed.sql: the global level's snapshot is
-- stored without PostgreSQL's compression.
--
-- The snapshot is tens of megabytes of floats. With the default storage
-- (EXTENDED) every checkpoint had pglz try to compress it, fail to save
-- the 25% it asks for, and store it uncompressed anyway: a 61 MB
-- snapshot took 1.75 s to insert, against 0.27 s without the attempt
-- (docs/durability.md). The bytes stored are the same; a start reads
-- them back without decompressing either way.
ALTER TABLE checkpoint ALTER COLUMN global SET STORAGE EXTERNAL;
