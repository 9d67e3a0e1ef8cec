-- A deleted item keeps its row (flagged), so the catalog order, which
-- gives every item its index in the model and in the client records, is
-- the same at every start. PUT of the same id brings it back.
ALTER TABLE items ADD COLUMN deleted boolean NOT NULL DEFAULT false;
