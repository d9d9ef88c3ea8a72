-- Which folder a replica is. Its root path alone cannot tell a moved folder (the same folder,
-- to go on using its store) from a copy (another folder, which must not share the copied one's
-- file bases): the root folder's inode can, as a move keeps it and a copy does not. NULL for a
-- folder attached before this column; the first open from that root fills it.
ALTER TABLE replicas ADD COLUMN folder_inode BIGINT;

-- This store's own id: two URLs that reach one database (another host spelling, a service
-- name) are known to be one store, so a copy never "replaces" a store with itself.
ALTER TABLE brain_schema ADD COLUMN store_id TEXT NOT NULL DEFAULT gen_random_uuid()::text;
