-- Dispatch and proof of delivery on each notice (services/allocation/notices.py), the amended
-- figures, and the time from release to receipt against the 7-day target.
ALTER TABLE notices
    ADD COLUMN amended_at         timestamptz,
    ADD COLUMN amendment_number   text,
    ADD COLUMN dispatched_lots    jsonb,
    ADD COLUMN carrier            text,
    ADD COLUMN dispatched_by      text,
    ADD COLUMN dispatched_at      timestamptz,
    ADD COLUMN received_lots      jsonb,
    ADD COLUMN received_by        text,
    ADD COLUMN received_at        timestamptz,
    ADD COLUMN with_discrepancies boolean     NOT NULL DEFAULT false,
    ADD COLUMN rejected_quantity  bigint      NOT NULL DEFAULT 0,
    ADD COLUMN lead_time_seconds  double precision;

-- The national list of receipts with discrepancies, newest first; the store's dispatch
-- desk, oldest first; the lead times over the notices received.
CREATE INDEX notices_discrepancies ON notices (position DESC) WHERE with_discrepancies;
CREATE INDEX notices_to_dispatch ON notices (position)
    WHERE status IN ('new', 'acknowledged') AND quantity > 0;
CREATE INDEX notices_received ON notices (lead_time_seconds)
    WHERE received_at IS NOT NULL AND lead_time_seconds IS NOT NULL;
