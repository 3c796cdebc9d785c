-- The owner epoch of each guild: a guild grain takes a new epoch when it
-- activates, before it loads the guild, and every guild write commits only
-- under the current one (see Store.AcquireGuildEpoch).
--
-- There is no foreign key to guilds: the epoch exists before the guild is
-- created (the creating grain holds one) and outlives its deletion, so an
-- epoch is never reused and an activation that missed the deletion stays
-- fenced out.
CREATE TABLE guild_owners (
    guild_id bigint PRIMARY KEY,
    epoch    bigint NOT NULL
);
