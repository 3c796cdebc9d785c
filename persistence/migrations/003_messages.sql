-- Messages with their edit history and reactions, channel owner epochs and DM
-- channels.
--
-- messages is partitioned by range of id, one partition per calendar month
-- (UTC), named messages_YYYY_MM. The partitions are not created here:
-- Store.EnsureMessagePartitions creates them ahead of time and
-- Store.DropMessagePartitionsBefore drops them after the retention period.
-- There is deliberately no DEFAULT partition: a row whose id falls in no
-- partition fails loudly instead of landing somewhere retention never sees.
-- There is no foreign key to channels either (partitioned bulk writes); the
-- application deletes a channel's messages itself.

CREATE TABLE messages (
    id               bigint      NOT NULL,
    channel_id       bigint      NOT NULL,
    guild_id         bigint,                -- NULL in DM channels
    author_id        bigint      NOT NULL,
    content          text        NOT NULL,
    nonce            text,
    tts              boolean     NOT NULL DEFAULT false,
    mention_everyone boolean     NOT NULL DEFAULT false,
    mentions         bigint[]    NOT NULL DEFAULT '{}',
    mention_roles    bigint[]    NOT NULL DEFAULT '{}',
    ref_message_id   bigint,
    ref_channel_id   bigint,
    ref_guild_id     bigint,
    type             smallint    NOT NULL DEFAULT 0,
    flags            integer     NOT NULL DEFAULT 0,
    edited_at        timestamptz,
    pinned_at        timestamptz,           -- NULL: not pinned
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
-- Keyset pagination of a channel's history. Defined on the parent, so every
-- partition gets it.
CREATE INDEX messages_channel_idx ON messages (channel_id, id);
-- A channel's pins; partial, so unpinned rows (nearly all) cost nothing.
CREATE INDEX messages_pins_idx ON messages (channel_id, pinned_at) WHERE pinned_at IS NOT NULL;

-- Earlier versions of edited messages: content is the text that edited_at
-- replaced.
CREATE TABLE message_edits (
    message_id bigint      NOT NULL,
    channel_id bigint      NOT NULL,
    content    text        NOT NULL,
    edited_at  timestamptz NOT NULL
);
CREATE INDEX message_edits_message_idx ON message_edits (message_id, edited_at);

-- emoji is a unicode emoji or "name:id" for a custom one.
CREATE TABLE reactions (
    channel_id bigint      NOT NULL,
    message_id bigint      NOT NULL,
    emoji      text        NOT NULL,
    user_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE INDEX reactions_message_idx ON reactions (message_id, created_at);

-- The owner epoch of each channel: a channel grain takes a new epoch when it
-- activates, and message writes commit only under the current one.
CREATE TABLE channel_owners (
    channel_id bigint PRIMARY KEY,
    epoch      bigint NOT NULL
);

-- DM (type 1) and group DM (type 3) channels live in channels with a NULL
-- guild_id; owner_id is a group DM's owner. last_message_id is kept by the
-- message writer for DM channels (their lists are ordered by it); a guild
-- channel's is its greatest message id, read from messages when needed.
ALTER TABLE channels
    ADD COLUMN owner_id        bigint,
    ADD COLUMN last_message_id bigint;

CREATE TABLE dm_recipients (
    channel_id bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX dm_recipients_user_idx ON dm_recipients (user_id);

-- One 1:1 DM channel per pair of users (user_low < user_high, or equal for a
-- DM with oneself).
CREATE TABLE dm_pairs (
    user_low   bigint NOT NULL,
    user_high  bigint NOT NULL,
    channel_id bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (user_low, user_high),
    CHECK (user_low <= user_high)
);
CREATE INDEX dm_pairs_channel_idx ON dm_pairs (channel_id);
