-- 0009: the number of live entities, kept in a one-row table. Every sync of a few paths (the
-- import after a save, the export after a `brain put`) reads it for the mass-delete guard, and
-- counting the live entities' index took 7 ms a job in a 100,000-note vault (0.7 ms at
-- 10,000), most of what made a save slower to become searchable in a large vault. The store's
-- code moves it by one in the transaction that adds a row to the full-text index or removes
-- one (src/fts.rs), which holds exactly the live entities; `check_index` compares it with a
-- real count. Not a trigger, for the reason 0001 gives. Written to run again harmlessly (the
-- count is taken afresh), as on a store taken back to an older version by hand.

CREATE TABLE IF NOT EXISTS live_count (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    live INTEGER NOT NULL
);

INSERT OR REPLACE INTO live_count (id, live) SELECT 1, count(*) FROM entities WHERE deleted_ms IS NULL;
