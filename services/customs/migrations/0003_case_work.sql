-- The clearance case as officers work it (issue 9): closure, urgency, holds, the clock,
-- per-lot balances and the checklist. The projection folds each case's events into the row.
ALTER TABLE clearance_cases
    ADD COLUMN closure              text,
    ADD COLUMN closed_at            timestamptz,
    ADD COLUMN cold_chain           boolean     NOT NULL DEFAULT false,
    ADD COLUMN nearest_expiry       date,
    ADD COLUMN partial_examination  boolean     NOT NULL DEFAULT false,
    ADD COLUMN out_of_hours         boolean     NOT NULL DEFAULT false,
    ADD COLUMN open_holds           integer     NOT NULL DEFAULT 0,
    ADD COLUMN clock_stopped_at     timestamptz,
    ADD COLUMN presented_total      bigint      NOT NULL DEFAULT 0,
    ADD COLUMN released_total       bigint      NOT NULL DEFAULT 0,
    ADD COLUMN refused_total        bigint      NOT NULL DEFAULT 0,
    ADD COLUMN held_total           bigint      NOT NULL DEFAULT 0,
    ADD COLUMN detail               jsonb       NOT NULL DEFAULT '{}';
-- The officers' queue: cold chain first, then the nearest expiry, then arrival time.
CREATE INDEX clearance_cases_urgency
    ON clearance_cases (status, cold_chain DESC, nearest_expiry, arrived_at, shipment_id);
CREATE INDEX clearance_cases_closed ON clearance_cases (status, closed_at DESC);
