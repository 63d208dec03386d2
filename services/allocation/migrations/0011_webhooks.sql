-- Signed webhooks for provinces (services/allocation/webhooks): endpoints, the durable
-- outbox of deliveries (one row per endpoint and event, written in the transaction that
-- records the event), and the log of every attempt.
CREATE TABLE webhook_endpoints (
    endpoint_id   uuid        PRIMARY KEY,
    province_code text        NOT NULL,
    url           text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    secret        bytea       NOT NULL,   -- encrypted (Fernet); never shown after creation
    from_position bigint      NOT NULL,   -- events after it are delivered
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE INDEX webhook_endpoints_province ON webhook_endpoints (province_code)
    WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    delivery_id     bigserial   PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints,
    event_id        uuid        NOT NULL,  -- the webhook-id: the same on every redelivery
    position        bigint      NOT NULL,
    event_type      text        NOT NULL,
    notice_number   text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',  -- pending, delivered, failed, cancelled
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    give_up_at      timestamptz NOT NULL DEFAULT now() + interval '3 days',
    delivered_at    timestamptz,
    last_status     int,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, position DESC);

CREATE TABLE webhook_attempts (
    attempt_id   bigserial   PRIMARY KEY,
    delivery_id  bigint      NOT NULL REFERENCES webhook_deliveries,
    endpoint_id  uuid        NOT NULL,
    attempt      int         NOT NULL,
    attempted_at timestamptz NOT NULL,
    duration_ms  int         NOT NULL,
    status_code  int,
    error        text,
    next_attempt_at timestamptz
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, attempt_id DESC);
