-- A notice's first status is called "issued", as the Ministry calls it (it was "new"): the
-- stored rows and the store's dispatch desk index follow.
UPDATE notices SET status = 'issued' WHERE status = 'new';
DROP INDEX IF EXISTS notices_to_dispatch;
CREATE INDEX notices_to_dispatch ON notices (position)
    WHERE status IN ('issued', 'acknowledged') AND quantity > 0;
