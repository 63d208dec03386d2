-- Allocation rounds decided per consignment, and the notices in each province's inbox.
CREATE TABLE allocation_rounds (
    round_id      text        PRIMARY KEY,
    shipment_id   uuid        NOT NULL UNIQUE,
    policy        text        NOT NULL,
    decided_at    timestamptz NOT NULL,
    lines         jsonb       NOT NULL,
    last_position bigint      NOT NULL
);

CREATE TABLE notices (
    notice_number   text        PRIMARY KEY,
    round_id        text        NOT NULL,
    shipment_id     uuid        NOT NULL,
    province_code   text        NOT NULL,
    line_no         int         NOT NULL,
    product         text        NOT NULL,
    unit            text        NOT NULL,
    pack_size       int         NOT NULL,
    quantity        bigint      NOT NULL,
    packs           bigint      NOT NULL,
    lots            jsonb       NOT NULL,
    status          text        NOT NULL,
    allocated_at    timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    position        bigint      NOT NULL
);
CREATE INDEX notices_inbox ON notices (province_code, position DESC);
