-- Applications and their bot users. An application and its bot share one
-- snowflake id, as on Discord: applications.id is the bot's users.id.
--
-- A bot token is "base64(id).base64(issued).secret"; only the SHA-256 of its
-- secret is stored. Each token is a token family (token_families), so
-- resetting the token revokes the old family and every node stops accepting
-- the old token exactly as it stops accepting a revoked login.
CREATE TABLE applications (
    id              bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    owner_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    description     text        NOT NULL DEFAULT '',
    flags           bigint      NOT NULL DEFAULT 0,
    bot_public      boolean     NOT NULL DEFAULT true,
    token_family_id bigint      NOT NULL REFERENCES token_families (id),
    token_hash      bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_owner_idx ON applications (owner_id);

-- A bot's managed role in a guild (Discord's role.tags.bot_id); NULL for
-- roles members manage.
ALTER TABLE roles ADD COLUMN bot_id bigint;
