-- The intake officers' view of consignments: one row per shipment.
CREATE TABLE shipments (
    shipment_id      uuid        PRIMARY KEY,
    donor            text        NOT NULL,
    channel          text        NOT NULL,
    airport          text        NOT NULL,
    flight           text        NOT NULL,
    airway_bill      text        NOT NULL,
    expected_arrival timestamptz NOT NULL,
    consignee        text        NOT NULL,
    status           text        NOT NULL,
    lines            jsonb       NOT NULL,
    received         jsonb,
    remarks          text,
    announced_at     timestamptz NOT NULL,
    announced_by     text,
    arrived_at       timestamptz,
    last_position    bigint      NOT NULL
);
CREATE INDEX shipments_by_airport ON shipments (airport, announced_at DESC, shipment_id);
CREATE INDEX shipments_by_time ON shipments (announced_at DESC, shipment_id);
