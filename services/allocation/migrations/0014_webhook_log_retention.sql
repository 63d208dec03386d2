-- The delivery log is deleted after its retention (webhooks/outbox.py, LOG_SWEEP): each
-- delivery's attempts go with it, found by this index (the foreign key's check uses it too).
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id);
