-- 0003-drop-impressions.sql: the impressions table goes.
--
-- What was shown to a client, for the frequency caps, is kept with the
-- client's state (model/client_facts.c: the last 24 h of impressions), so
-- it is written to client_state with every checkpoint and erased with the
-- client. Nothing in maisond writes or reads this table; its indexes go
-- with it.
DROP TABLE impressions;
