-- The users a service knows. A token of the built-in issuer counts only while its account
-- is active and still at the token version it names: logout and disable bump the version.
CREATE TABLE accounts (
    sub           text        PRIMARY KEY,
    name          text        NOT NULL,
    role          text        NOT NULL,
    scope         text[]      NOT NULL DEFAULT '{}',
    password_hash text,
    active        boolean     NOT NULL DEFAULT true,
    token_version integer     NOT NULL DEFAULT 1,
    demo          boolean     NOT NULL DEFAULT false, -- counts only while the demo IdP is on
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins per user name and per client address, in one fixed window each, so that
-- every replica of a service throttles the same guesses.
CREATE TABLE login_failures (
    key            text        PRIMARY KEY,
    failures       integer     NOT NULL,
    window_started timestamptz NOT NULL
);
