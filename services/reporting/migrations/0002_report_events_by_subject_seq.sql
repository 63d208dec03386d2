-- The rebuild reads the kept events consignment by consignment, in consumption order.
CREATE INDEX report_events_by_subject_seq ON report_events (subject, seq);
