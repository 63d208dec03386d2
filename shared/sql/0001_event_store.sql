-- The service's own event store: the source of truth and the outbox of the relay.
CREATE TABLE events (
    position       bigserial   PRIMARY KEY,
    stream_id      text        NOT NULL,
    stream_version integer     NOT NULL CHECK (stream_version >= 1),
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream_id, stream_version)
);

-- How far the relay has published the events table to Kafka (acknowledged by the broker).
CREATE TABLE relay_checkpoints (
    relay    text   PRIMARY KEY,
    position bigint NOT NULL
);

-- Kafka offsets consumed, written in the same transaction as the effects.
CREATE TABLE consumer_offsets (
    consumer_group text   NOT NULL,
    topic          text   NOT NULL,
    partition      int    NOT NULL,
    next_offset    bigint NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Event ids already handled: re-published duplicates are skipped.
CREATE TABLE processed_events (
    consumer_group text        NOT NULL,
    event_id       uuid        NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);

-- A handler failure parks the event and every later event of the same shipment.
CREATE TABLE parked_messages (
    id             bigserial   PRIMARY KEY,
    consumer_group text        NOT NULL,
    subject        text        NOT NULL,
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    kafka_offset   bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    headers        jsonb       NOT NULL,
    data           jsonb       NOT NULL,
    error          text        NOT NULL,
    attempts       int         NOT NULL DEFAULT 1,
    parked_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_messages_by_subject ON parked_messages (consumer_group, subject, id);

-- Responses of commands sent with an Idempotency-Key, replayed on a retry.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       int         NOT NULL,
    body         jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
