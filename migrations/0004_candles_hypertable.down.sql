-- A hypertable is not turned back into a plain table in place; the down step keeps the data
-- and changes nothing (on plain PostgreSQL there was nothing to undo).
SELECT 1;
