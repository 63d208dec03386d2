-- The customs officers' queue: one clearance case per consignment.
CREATE TABLE clearance_cases (
    shipment_id        uuid        PRIMARY KEY,
    airport            text        NOT NULL,
    donor              text        NOT NULL,
    channel            text        NOT NULL,
    airway_bill        text        NOT NULL,
    expected_arrival   timestamptz NOT NULL,
    status             text        NOT NULL,
    lines              jsonb       NOT NULL,
    received           jsonb,
    opened_at          timestamptz NOT NULL,
    arrived_at         timestamptz,
    cleared_at         timestamptz,
    cleared_by         text,
    declaration_number text,
    lane               text,
    examination        text,
    remarks            text,
    cleared_lines      jsonb,
    last_position      bigint      NOT NULL
);
CREATE INDEX clearance_cases_queue ON clearance_cases (status, airport, opened_at, shipment_id);
