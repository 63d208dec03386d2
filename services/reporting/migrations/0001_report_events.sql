-- Reporting's own data: every consumed event as received (the log that as_of replays and
-- that rebuilds the projection), and one row of folded facts per consignment.
CREATE TABLE report_events (
    seq         bigserial   PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    source      text        NOT NULL,
    subject     text        NOT NULL,
    actor       text,
    data        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_events_by_time ON report_events (recorded_at, seq);
CREATE INDEX report_events_by_subject ON report_events (subject, recorded_at, seq);

CREATE TABLE report_consignments (
    shipment_id text        PRIMARY KEY,
    donor       text        NOT NULL DEFAULT '',
    facts       jsonb       NOT NULL,
    last_seq    bigint      NOT NULL
);
CREATE INDEX report_consignments_by_donor ON report_consignments (donor);
