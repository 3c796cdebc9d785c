-- Accounts, token families, refresh tokens, JWT signing keys and snowflake worker leases.

CREATE TABLE users (
    id            bigint PRIMARY KEY,
    username      text        NOT NULL,
    discriminator smallint    NOT NULL CHECK (discriminator BETWEEN 1 AND 9999),
    global_name   text,
    avatar        text,
    email         text        NOT NULL,
    verified      boolean     NOT NULL DEFAULT false,
    bot           boolean     NOT NULL DEFAULT false,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- username#discriminator is unique regardless of case, as is the email address.
CREATE UNIQUE INDEX users_tag_key ON users (lower(username), discriminator);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A token family is one login: every refresh token rotated from it shares the
-- family id, which access tokens carry as "sid". Revoking the family ends the
-- login everywhere.
CREATE TABLE token_families (
    id            bigint PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX token_families_user_idx ON token_families (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id  bigint      NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Ed25519 keys that sign access tokens. The newest unretired key signs; every
-- key verifies until it is deleted.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- Snowflake worker ids leased by live nodes.
CREATE TABLE worker_leases (
    worker_id  integer PRIMARY KEY CHECK (worker_id BETWEEN 0 AND 1023),
    node       text        NOT NULL,
    expires_at timestamptz NOT NULL
);
