-- Indexes for what the API and the pages read (tests/integration/test_query_plans.py).
-- The API queue is keyset-paged on (opened_at, shipment_id), with or without a status;
-- the page lists one status in its own order.
CREATE INDEX clearance_cases_opened ON clearance_cases (opened_at, shipment_id);
CREATE INDEX clearance_cases_awaiting ON clearance_cases (status, expected_arrival, opened_at);
CREATE INDEX clearance_cases_arrived ON clearance_cases (status, arrived_at, opened_at);
CREATE INDEX clearance_cases_cleared ON clearance_cases (status, cleared_at DESC);
