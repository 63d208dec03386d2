-- Rounds drafted, adjusted, approved and amended (issue 10): several rounds per consignment
-- (fast track or each release, and releases from the national reserve).
ALTER TABLE allocation_rounds DROP CONSTRAINT allocation_rounds_shipment_id_key;
ALTER TABLE allocation_rounds
    ADD COLUMN source          text        NOT NULL DEFAULT 'fast_track',
    ADD COLUMN release_no      int,
    ADD COLUMN policy_id       text,
    ADD COLUMN policy_version  int,
    ADD COLUMN status          text        NOT NULL DEFAULT 'approved',
    ADD COLUMN automatic       boolean     NOT NULL DEFAULT true,
    ADD COLUMN use_by          date,
    ADD COLUMN released_at     timestamptz,
    ADD COLUMN drafted_by      text        NOT NULL DEFAULT '',
    ADD COLUMN donor           text        NOT NULL DEFAULT '',
    ADD COLUMN decision_number text,
    ADD COLUMN decision_date   date,
    ADD COLUMN approved_by     text,
    ADD COLUMN approved_at     timestamptz,
    ADD COLUMN adjustments     jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN amendments      jsonb       NOT NULL DEFAULT '[]';
CREATE INDEX allocation_rounds_by_shipment ON allocation_rounds (shipment_id, decided_at);
CREATE INDEX allocation_rounds_by_status ON allocation_rounds (status, decided_at);

-- A notice carries its decision; an amendment changes its quantity and lots.
ALTER TABLE notices
    ADD COLUMN decision_number text NOT NULL DEFAULT '',
    ADD COLUMN released_at     timestamptz;
CREATE INDEX notices_by_product ON notices (product, province_code);
