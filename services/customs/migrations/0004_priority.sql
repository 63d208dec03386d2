-- Issue 10: the consignment's priority; the officers' queues put emergencies first.
ALTER TABLE clearance_cases
    ADD COLUMN priority      text     NOT NULL DEFAULT 'routine',
    ADD COLUMN priority_rank smallint NOT NULL DEFAULT 0;

DROP INDEX clearance_cases_awaiting;
CREATE INDEX clearance_cases_awaiting
    ON clearance_cases (status, priority_rank DESC, expected_arrival, opened_at);
DROP INDEX clearance_cases_urgency;
CREATE INDEX clearance_cases_urgency
    ON clearance_cases (status, priority_rank DESC, cold_chain DESC, nearest_expiry, arrived_at,
        shipment_id);
