-- 0008: the change feed is numbered by the store's code, not by triggers (see 0006 for why).
-- A store made by an earlier build of 0006 has the triggers; they go, so no change is
-- numbered twice.
DROP TRIGGER IF EXISTS entity_changed_on_insert;
DROP TRIGGER IF EXISTS entity_changed_on_update;
