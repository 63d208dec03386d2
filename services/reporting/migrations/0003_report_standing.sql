-- What each consignment stands for in the national picture (domain/standing.py), stored
-- beside its facts in the same transaction, so that the live dashboard and the summaries add
-- narrow rows up in SQL instead of decoding every consignment's facts on each request.
-- Rows written before this migration are derived at the service's start (standing_version).
ALTER TABLE report_consignments
    ADD COLUMN standing_version integer NOT NULL DEFAULT 0,
    ADD COLUMN counted          boolean NOT NULL DEFAULT false,
    ADD COLUMN in_totals        boolean NOT NULL DEFAULT false,
    ADD COLUMN channel          text    NOT NULL DEFAULT '',
    ADD COLUMN stage            text    NOT NULL DEFAULT 'announced',
    ADD COLUMN current_doses    bigint  NOT NULL DEFAULT 0,
    ADD COLUMN announced_doses  bigint  NOT NULL DEFAULT 0,
    ADD COLUMN released_doses   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN allocated_doses  bigint  NOT NULL DEFAULT 0,
    ADD COLUMN received_doses   bigint  NOT NULL DEFAULT 0;
CREATE INDEX report_consignments_by_standing_version ON report_consignments (standing_version);

CREATE TABLE report_notices (
    shipment_id     text        NOT NULL,
    notice_number   text        NOT NULL,
    recipient       text        NOT NULL,
    donor           text        NOT NULL,
    product         text        NOT NULL,
    unit            text        NOT NULL,
    doses           boolean     NOT NULL,
    quantity        bigint      NOT NULL,
    accepted        bigint,
    allocated_at    timestamptz,
    acknowledged_at timestamptz,
    dispatched_at   timestamptz,
    received_at     timestamptz,
    PRIMARY KEY (shipment_id, notice_number)
);
CREATE INDEX report_notices_by_recipient ON report_notices (recipient);

CREATE TABLE report_lines (
    shipment_id text   NOT NULL,
    n           int    NOT NULL,
    product     text   NOT NULL,
    category    text   NOT NULL,
    unit        text   NOT NULL,
    announced   bigint NOT NULL,
    released    bigint NOT NULL,
    allocated   bigint NOT NULL,
    received    bigint NOT NULL,
    PRIMARY KEY (shipment_id, n)
);

CREATE TABLE report_lead_times (
    shipment_id   text    NOT NULL,
    n             int     NOT NULL,
    step          text    NOT NULL,
    hours         float8  NOT NULL,
    within_target boolean NOT NULL,
    bucket        int     NOT NULL,
    PRIMARY KEY (shipment_id, n)
);

CREATE TABLE report_rejections (
    shipment_id text   NOT NULL,
    n           int    NOT NULL,
    at          text   NOT NULL,  -- "airport", "customs" or a recipient's code
    product     text   NOT NULL,
    reason      text   NOT NULL,
    quantity    bigint NOT NULL,
    note        text   NOT NULL,
    PRIMARY KEY (shipment_id, n)
);
CREATE INDEX report_rejections_by_place ON report_rejections (at);

-- Open deadlines only (a VAR not filed, a notice not received, goods not cleared): the
-- dashboard lists those already passed.
CREATE TABLE report_deadlines (
    shipment_id text        NOT NULL,
    n           int         NOT NULL,
    kind        text        NOT NULL,
    reference   text        NOT NULL,
    since       timestamptz NOT NULL,
    detail      text        NOT NULL,
    stuck_from  timestamptz NOT NULL,
    PRIMARY KEY (shipment_id, n)
);
CREATE INDEX report_deadlines_by_time ON report_deadlines (stuck_from);
