-- 0004: path keys computed again with the key function as it is now.
-- `path_key` once lower-cased a whole path with Rust's `str::to_lowercase`, whose Greek
-- final-sigma rule gave `ΟΔΟΣ` and `ΟΔΟσ` (one file on a case-insensitive file system) two
-- keys; an archived tombstone's key came from SQLite's `lower()`, which folds ASCII only. The
-- store registers `brain_path_key` (brain_core::path_key) on every connection, so this sets
-- every row's key to what the code computes; rows already right are left alone.

UPDATE entities SET path_key = brain_path_key(path) WHERE path_key IS NOT brain_path_key(path);
