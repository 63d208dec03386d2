-- Resolved dead letters and quarantined events are deleted after their retention, oldest
-- first (shared/retention.py); open ones are never deleted.
CREATE INDEX dead_letters_resolved ON dead_letters (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX relay_quarantine_resolved ON relay_quarantine (resolved_at)
    WHERE resolved_at IS NOT NULL;
