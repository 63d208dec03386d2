-- The rounds newest first, ties in time by round id, so that a page can start after any
-- round (GET /api/v1/rounds?before=...).
DROP INDEX allocation_rounds_newest;
DROP INDEX allocation_rounds_by_status;
CREATE INDEX allocation_rounds_newest ON allocation_rounds (decided_at, round_id);
CREATE INDEX allocation_rounds_by_status ON allocation_rounds (status, decided_at, round_id);
