-- Issue 9: consignments that arrive in parts, are closed or cancelled; the VARs due.
ALTER TABLE shipments
    ADD COLUMN parts_count   int         NOT NULL DEFAULT 0,
    ADD COLUMN closed_at     timestamptz,
    ADD COLUMN closed_by     text,
    ADD COLUMN accepted      jsonb,
    ADD COLUMN shortages     jsonb,
    ADD COLUMN cancelled_at  timestamptz,
    ADD COLUMN cancel_reason text,
    ADD COLUMN amended_at    timestamptz;

-- One row per arrival part (flight), with its lots as counted and its discrepancies.
CREATE TABLE shipment_parts (
    shipment_id           uuid        NOT NULL,
    part_no               int         NOT NULL,
    flight                text        NOT NULL,
    arrived_at            timestamptz NOT NULL,
    entered_cold_store_at timestamptz,
    lots                  jsonb       NOT NULL,
    discrepancies         jsonb       NOT NULL,
    recorded_by           text,
    remarks               text        NOT NULL,
    last_position         bigint      NOT NULL,
    PRIMARY KEY (shipment_id, part_no)
);

-- One VAR per vaccine line of each part: due 3 days after the part's arrival.
CREATE TABLE arrival_reports (
    shipment_id uuid        NOT NULL,
    part_no     int         NOT NULL,
    line_no     int         NOT NULL,
    airport     text        NOT NULL,
    airway_bill text        NOT NULL,
    product     text        NOT NULL,
    arrived_at  timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    filed_at    timestamptz,
    report      jsonb,
    PRIMARY KEY (shipment_id, part_no, line_no)
);
CREATE INDEX arrival_reports_unfiled ON arrival_reports (due_at) WHERE filed_at IS NULL;
