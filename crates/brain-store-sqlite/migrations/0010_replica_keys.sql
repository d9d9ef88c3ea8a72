-- Per-replica state keyed by a replica id, as on PostgreSQL, so a brain moved between the two
-- (`brain store copy`) and the code above them see one shape. A SQLite store lives in its one
-- folder's `.brain/`, so its only replica is 'local' (brain_store_postgres::DEFAULT_REPLICA).
CREATE TABLE file_bases_by_replica (
    replica      TEXT    NOT NULL DEFAULT 'local',
    path         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    ctime_ns     INTEGER NOT NULL,
    inode        INTEGER NOT NULL,
    hash         TEXT    NOT NULL,
    entity_rowid INTEGER NOT NULL REFERENCES entities (rowid) ON DELETE CASCADE,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    PRIMARY KEY (replica, path)
) WITHOUT ROWID;
INSERT INTO file_bases_by_replica (replica, path, size, mtime_ns, ctime_ns, inode, hash,
                                   entity_rowid, type, id)
    SELECT 'local', path, size, mtime_ns, ctime_ns, inode, hash, entity_rowid, type, id
    FROM file_bases;
DROP TABLE file_bases;
ALTER TABLE file_bases_by_replica RENAME TO file_bases;
CREATE INDEX file_bases_entity ON file_bases (entity_rowid);

CREATE TABLE runtime_state_by_replica (
    replica    TEXT    NOT NULL DEFAULT 'local',
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL, -- JSON
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (replica, key)
) WITHOUT ROWID;
INSERT INTO runtime_state_by_replica (replica, key, value, updated_ms)
    SELECT 'local', key, value, updated_ms FROM runtime_state;
DROP TABLE runtime_state;
ALTER TABLE runtime_state_by_replica RENAME TO runtime_state;

-- The folders of this store (one) and each one's export cursor on the change feed (unused
-- while the dirty flag drives a single folder's exports).
CREATE TABLE IF NOT EXISTS replicas (
    id         TEXT    PRIMARY KEY,
    root       TEXT    NOT NULL,
    host       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replica_cursors (
    replica     TEXT    PRIMARY KEY,
    exported_to INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT OR IGNORE INTO replica_cursors (replica) VALUES ('local');
