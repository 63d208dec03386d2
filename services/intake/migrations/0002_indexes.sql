-- Indexes for what the API and the pages read (tests/integration/test_query_plans.py).
-- The lists are read newest first with shipment_id DESC as the tie-breaker: a backward scan
-- of (announced_at, shipment_id) gives exactly that order, so no sort step is needed.
-- They replace the 0001 indexes, which could only be read with an extra sort.
DROP INDEX shipments_by_time;
DROP INDEX shipments_by_airport;
CREATE INDEX shipments_newest ON shipments (announced_at, shipment_id);
CREATE INDEX shipments_airport_newest ON shipments (airport, announced_at, shipment_id);
CREATE INDEX shipments_status_newest ON shipments (status, announced_at, shipment_id);
