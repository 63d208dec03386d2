-- Every message a consumer could not decode, validate or store: the raw bytes as received
-- (bytea, never jsonb: the data is untrusted), where it was read, why, and whether its copy
-- reached the dead-letter topic. One row per consumed offset, so a redelivery adds nothing.
CREATE TABLE dead_letters (
    id             bigserial   PRIMARY KEY,
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    kafka_offset   bigint      NOT NULL,
    msg_key        bytea,
    msg_value      bytea,
    header_keys    bytea[]     NOT NULL,
    header_values  bytea[]     NOT NULL,
    reason         text        NOT NULL,
    dlq_published  boolean     NOT NULL,
    dlq_error      text,
    attempts       int         NOT NULL DEFAULT 1,
    resolved_at    timestamptz,
    dead_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer_group, topic, partition, kafka_offset)
);
CREATE INDEX dead_letters_open ON dead_letters (consumer_group, id) WHERE resolved_at IS NULL;

-- Parked events keep their raw bytes too: the jsonb copies could not hold every valid event
-- (U+0000), and a park must never fail. New rows fill raw_*; old rows keep headers/data.
ALTER TABLE parked_messages
    ALTER COLUMN headers DROP NOT NULL,
    ALTER COLUMN data DROP NOT NULL,
    ADD COLUMN raw_value bytea,
    ADD COLUMN raw_header_keys bytea[],
    ADD COLUMN raw_header_values bytea[];

-- Events the broker refused for good (quarantined), and the later events of the same
-- stream that the relay holds back behind them (held), so none is published out of order.
-- The relay's checkpoint moves past both; the active relay publishes them in position
-- order when an admin asks (requested = 'retry'), or resolves the quarantined one without
-- publishing it (requested = 'skip', with a reason).
CREATE TABLE relay_quarantine (
    id          bigserial   PRIMARY KEY,
    relay       text        NOT NULL,
    position    bigint      NOT NULL,
    stream_id   text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('quarantined', 'held')),
    reason      text        NOT NULL,
    requested   text        CHECK (requested IN ('retry', 'skip')),
    skip_reason text,
    attempts    int         NOT NULL DEFAULT 1,
    since       timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolution  text        CHECK (resolution IN ('published', 'skipped')),
    UNIQUE (relay, position)
);
CREATE INDEX relay_quarantine_open ON relay_quarantine (relay, stream_id, position)
    WHERE resolved_at IS NULL;
