-- 0005-event-brand.sql: the brand an item-less event belongs to.
--
-- A store visit, an appointment or a private event names no item, so
-- nothing said which house it was at. The optional brand lets a brand
-- that keeps its signals to itself ("signals": {"share_with_other_brands":
-- false}) keep its visits too, and lets a brand-scoped profile show only
-- its own visits. NULL: no brand (older events and events without one).
ALTER TABLE events ADD COLUMN brand text;
