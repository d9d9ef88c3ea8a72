-- History (issue 19), as SQLite's 0011: the entity row is its newest version (its number, and
-- what made it and why); a change that replaces it (content, place or liveness) first keeps
-- it in entity_versions, stored against the text that replaced it
-- (brain_store::history::encode), in the same transaction.
ALTER TABLE entities ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE entities ADD COLUMN source TEXT NOT NULL DEFAULT 'file';
ALTER TABLE entities ADD COLUMN message TEXT;

CREATE TABLE entity_versions (
    entity_id    BIGINT  NOT NULL REFERENCES entities (row_id) ON DELETE CASCADE,
    version      BIGINT  NOT NULL,
    path         TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    deleted      BOOLEAN NOT NULL,
    made_ms      BIGINT  NOT NULL,
    source       TEXT    NOT NULL,
    message      TEXT,
    stored       BYTEA   NOT NULL,
    PRIMARY KEY (entity_id, version)
);
-- A joining folder's old copy of a note moved since is found by its old path.
CREATE INDEX entity_versions_path ON entity_versions (path);
