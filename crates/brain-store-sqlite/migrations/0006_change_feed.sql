-- 0006: the change feed (`Store::changes_since`). Why it looks like this:
-- * a narrow table beside `entities`, one row per entity holding the number of its latest
--   change: numbering a change rewrites this small row, never the entity's (large) row, so an
--   import pays one small insert per note, not a second write of its text;
-- * a new row for each change, numbered one past the highest (INSERT OR REPLACE deletes the
--   entity's old row after the number is taken, so the highest number is never handed out
--   twice); rows are never deleted otherwise (no foreign key: an entity is never hard-deleted,
--   and a row left behind would only keep the highest number in place), so a number is never
--   reused. Not AUTOINCREMENT, whose bookkeeping row made every import a third slower;
-- * triggers number every change in the transaction that makes it, whatever statement makes
--   it (put, import, rename, archive, soft delete, restore), so no write path can forget; the
--   update trigger fires only when what a consumer sees changes (the dirty flag and the
--   export bookkeeping are not changes);
-- * SQLite has one writer at a time, so numbers are handed out in commit order: a consumer
--   reading on from its last number never misses a change.

CREATE TABLE entity_changes (
    seq          INTEGER PRIMARY KEY,
    entity_rowid INTEGER NOT NULL UNIQUE
);

-- Entities already stored are numbered once, in row order.
INSERT INTO entity_changes (seq, entity_rowid)
    SELECT row_number() OVER (ORDER BY rowid), rowid FROM entities;

CREATE TRIGGER entity_changed_on_insert AFTER INSERT ON entities
BEGIN
    INSERT OR REPLACE INTO entity_changes (seq, entity_rowid)
        VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM entity_changes), NEW.rowid);
END;

CREATE TRIGGER entity_changed_on_update AFTER UPDATE ON entities
WHEN OLD.content_hash IS NOT NEW.content_hash
  OR OLD.deleted_ms IS NOT NEW.deleted_ms
  OR OLD.path IS NOT NEW.path
  OR OLD.type IS NOT NEW.type
  OR OLD.id IS NOT NEW.id
BEGIN
    INSERT OR REPLACE INTO entity_changes (seq, entity_rowid)
        VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM entity_changes), NEW.rowid);
END;
