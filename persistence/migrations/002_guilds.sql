-- Guilds and everything a guild grain owns: roles, channels with permission
-- overwrites, members, bans and invites. Permission bitfields are uint64
-- values stored in bigint columns bit for bit.

CREATE TABLE guilds (
    id                bigint PRIMARY KEY,
    name              text        NOT NULL,
    icon              text,
    owner_id          bigint      NOT NULL REFERENCES users (id),
    system_channel_id bigint,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roles (
    id          bigint PRIMARY KEY,
    guild_id    bigint  NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    name        text    NOT NULL,
    color       integer NOT NULL DEFAULT 0,
    hoist       boolean NOT NULL DEFAULT false,
    position    integer NOT NULL DEFAULT 0,
    permissions bigint  NOT NULL DEFAULT 0,
    mentionable boolean NOT NULL DEFAULT false
);
CREATE INDEX roles_guild_idx ON roles (guild_id);

-- guild_id is NULL for DM and group DM channels.
CREATE TABLE channels (
    id                  bigint PRIMARY KEY,
    guild_id            bigint REFERENCES guilds (id) ON DELETE CASCADE,
    type                smallint    NOT NULL,
    name                text,
    topic               text,
    position            integer     NOT NULL DEFAULT 0,
    parent_id           bigint,
    nsfw                boolean     NOT NULL DEFAULT false,
    rate_limit_per_user integer     NOT NULL DEFAULT 0,
    bitrate             integer,
    user_limit          integer,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_guild_idx ON channels (guild_id);

CREATE TABLE channel_overwrites (
    channel_id bigint   NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    target_id  bigint   NOT NULL,
    type       smallint NOT NULL CHECK (type IN (0, 1)),
    allow      bigint   NOT NULL DEFAULT 0,
    deny       bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, target_id)
);

CREATE TABLE guild_members (
    guild_id                     bigint      NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    user_id                      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nick                         text,
    roles                        bigint[]    NOT NULL DEFAULT '{}',
    joined_at                    timestamptz NOT NULL DEFAULT now(),
    communication_disabled_until timestamptz,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX guild_members_user_idx ON guild_members (user_id);

CREATE TABLE guild_bans (
    guild_id   bigint      NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE invites (
    code       text PRIMARY KEY,
    guild_id   bigint      NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    channel_id bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    inviter_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    max_age    integer     NOT NULL DEFAULT 86400,
    max_uses   integer     NOT NULL DEFAULT 0,
    uses       integer     NOT NULL DEFAULT 0,
    temporary  boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invites_guild_idx ON invites (guild_id);
