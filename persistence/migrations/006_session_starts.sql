-- Gateway session starts (Identify) of bots, for Discord's session start
-- limit: a bot may identify a bounded number of times per 24 hours, which
-- GET /gateway/bot reports. Rows older than the window are deleted as the
-- bot identifies again.
CREATE TABLE session_starts (
    user_id    bigint      NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_starts_user ON session_starts (user_id, started_at);
