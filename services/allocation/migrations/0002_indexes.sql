-- Indexes for what the API, the pages and the reactions read
-- (tests/integration/test_query_plans.py).
CREATE INDEX notices_by_shipment ON notices (shipment_id);
-- The inbox filtered by status, and the live feed's count of new notices.
CREATE INDEX notices_inbox_status ON notices (province_code, status, position DESC);
CREATE INDEX allocation_rounds_newest ON allocation_rounds (decided_at);
