-- 0001: the first schema. Why it looks like this:
-- * entities keep their small columns first and the large text (metadata, frontmatter, body)
--   last, so scans that read only type/id/path/deleted_ms never walk a note's overflow pages.
-- * tags are kept twice: as a JSON array on the row (so `get` returns them in the caller's
--   order with no second query, and an import can tell cheaply whether they changed) and in
--   entity_tags (so `list --tag` and search tag filters are an index lookup).
-- * file_bases repeats the entity's type and id, so `sync_state` reads 10,000 bases from one
--   small table instead of joining into the large one.
-- * entity_fts is an external-content FTS5 index over the title and body of LIVE entities,
--   written in the same transaction as the row: a tombstone can never be found, and an update
--   never leaves stale words behind.

CREATE TABLE entities (
    rowid        INTEGER PRIMARY KEY,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    path_key     TEXT    NOT NULL, -- brain_core::path_key(path): NFC + lower case
    content_hash TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    deleted_ms   INTEGER,          -- set on a tombstone
    dirty        INTEGER NOT NULL DEFAULT 0, -- changed through an interface since the last sync
    title        TEXT    NOT NULL,
    tags         TEXT    NOT NULL, -- JSON array, as given
    metadata     TEXT    NOT NULL, -- JSON object, key order kept
    frontmatter  TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    UNIQUE (type, id)
);

-- Path collisions are only refused between live entities; listing is in path order.
CREATE INDEX entities_live_key ON entities (path_key) WHERE deleted_ms IS NULL;
CREATE INDEX entities_path ON entities (path);
-- The dirty set is small and read on every sync.
CREATE INDEX entities_dirty ON entities (dirty) WHERE dirty = 1;

CREATE TABLE entity_tags (
    tag          TEXT    NOT NULL,
    entity_rowid INTEGER NOT NULL REFERENCES entities (rowid) ON DELETE CASCADE,
    PRIMARY KEY (tag, entity_rowid)
) WITHOUT ROWID;
-- Replacing an entity's tags (and the cascade) looks them up by entity.
CREATE INDEX entity_tags_entity ON entity_tags (entity_rowid);

CREATE TABLE file_bases (
    path         TEXT    PRIMARY KEY,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    ctime_ns     INTEGER NOT NULL,
    inode        INTEGER NOT NULL,
    hash         TEXT    NOT NULL,
    entity_rowid INTEGER NOT NULL REFERENCES entities (rowid) ON DELETE CASCADE,
    type         TEXT    NOT NULL, -- copies of the entity's, kept in step by the store
    id           TEXT    NOT NULL
) WITHOUT ROWID; -- clustered by path: a scan reads the bases already in path order
CREATE INDEX file_bases_entity ON file_bases (entity_rowid);

CREATE TABLE conflicts (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    entity_type   TEXT,
    entity_id     TEXT,
    store_content TEXT,
    file_content  TEXT,
    copy_path     TEXT,
    detail        TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    resolved_ms   INTEGER
);
-- Recording a conflict first checks for an unresolved duplicate.
CREATE INDEX conflicts_open ON conflicts (path) WHERE resolved_ms IS NULL;

-- The index holds LIVE entities only, so its external content is a view of them: FTS5 reads
-- snippets through it, and 'rebuild' or 'integrity-check' (rank 1) compare against exactly the
-- rows that should be indexed.
CREATE VIEW entity_fts_content AS
    SELECT rowid, title, body FROM entities WHERE deleted_ms IS NULL;

-- No prefix index: it would slow every import, and prefix queries work without it.
-- No triggers either: a statement that fires a trigger writing to FTS5 opens a statement
-- savepoint, and FTS5 flushes its pending terms to a new segment at every savepoint, which
-- made a 10,000-note import twice as slow as plain FTS5 inserts. The store writes the index
-- itself, in the same transaction, through the few functions in src/sqlite/entities.rs that
-- change title, body or liveness; the SQLite tests check it with 'integrity-check'.
CREATE VIRTUAL TABLE entity_fts USING fts5 (
    title,
    body,
    content = 'entity_fts_content',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
-- A title match counts five times a body match.
INSERT INTO entity_fts (entity_fts, rank) VALUES ('rank', 'bm25(5.0, 1.0)');
