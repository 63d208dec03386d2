-- When each consignment's first and last kept events were recorded. An as_of question adds
-- up the stored standings of the consignments whose events had all come by then, and replays
-- only those still changing at that moment (services/reporting/queries.py).
ALTER TABLE report_consignments
    ADD COLUMN IF NOT EXISTS first_recorded_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_recorded_at  timestamptz;
UPDATE report_consignments c SET first_recorded_at = span.first, last_recorded_at = span.last
FROM (SELECT subject, min(recorded_at) AS first, max(recorded_at) AS last
      FROM report_events GROUP BY subject) AS span
WHERE span.subject = c.shipment_id;
CREATE INDEX IF NOT EXISTS report_consignments_settled ON report_consignments (last_recorded_at);
CREATE INDEX IF NOT EXISTS report_consignments_started ON report_consignments (first_recorded_at);
