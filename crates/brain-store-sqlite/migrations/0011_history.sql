-- History (issue 19): every change of an entity keeps the version it replaced.
--
-- The entity row is its newest version: its number, and what made it (`source`: file, cli,
-- mcp, git, batch N...; `message`: why, when the caller said). A change that replaces it
-- (content, path or liveness) first copies it into entity_versions, stored as the changes that
-- turn the new text back into it (brain_store::history::encode), in the same transaction.
ALTER TABLE entities ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE entities ADD COLUMN source TEXT NOT NULL DEFAULT 'file';
ALTER TABLE entities ADD COLUMN message TEXT;

CREATE TABLE entity_versions (
    entity_rowid INTEGER NOT NULL REFERENCES entities (rowid) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    path         TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    deleted      INTEGER NOT NULL, -- the version was a deleted note
    made_ms      INTEGER NOT NULL, -- when it was written (or deleted)
    source       TEXT    NOT NULL,
    message      TEXT,
    stored       BLOB    NOT NULL, -- its text against the next version's text
    PRIMARY KEY (entity_rowid, version)
) WITHOUT ROWID;
-- A joining folder's old copy of a note moved since is found by its old path.
CREATE INDEX entity_versions_path ON entity_versions (path);
