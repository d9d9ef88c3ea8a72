-- 0006: the change feed (`Store::changes_since`). Why it looks like this:
-- * a narrow table beside `entities`, one row per entity holding the number of its latest
--   change: numbering a change rewrites this small row, never the entity's (large) row, so an
--   import pays one small insert per note, not a second write of its text;
-- * each change takes a new number, one past the highest, before the entity's old row is let
--   go, so a number is never handed out twice; rows are never deleted otherwise (no foreign
--   key: an entity is never hard-deleted). Not AUTOINCREMENT, whose bookkeeping row made every
--   import a third slower;
-- * the numbers are written by the store's code (`changes::record`), in the transaction that
--   makes the change, from the few functions every row-level write of `entities` goes
--   through. Not by triggers: a trigger on `entities` gives each insert a statement journal,
--   and FTS5 flushes its pending index at each one, which made an import half again as slow
--   (0008 drops the triggers an earlier build of this migration made);
-- * SQLite has one writer at a time, so numbers are handed out in commit order: a consumer
--   reading on from its last number never misses a change.

CREATE TABLE entity_changes (
    seq          INTEGER PRIMARY KEY,
    entity_rowid INTEGER NOT NULL UNIQUE
);

-- Entities already stored are numbered once, in row order.
INSERT INTO entity_changes (seq, entity_rowid)
    SELECT row_number() OVER (ORDER BY rowid), rowid FROM entities;
