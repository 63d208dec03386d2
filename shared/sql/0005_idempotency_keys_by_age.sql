-- Keys are forgotten after their retention, oldest first.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
