-- A gap-safe global order without a table lock: each event records the transaction that
-- wrote it, and readers go in (transaction_id, position) order, only below the oldest
-- transaction still running (see shared/eventstore.py). Events stored before this
-- migration get 0, which sorts before every real transaction id; their order stays the
-- order of their positions, and a relay checkpoint (a position) keeps its meaning.
ALTER TABLE events ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();
CREATE INDEX events_in_order ON events (transaction_id, position);
