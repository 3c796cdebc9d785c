-- Placeholder keeping migration numbers contiguous (tern refuses gaps) on a
-- branch where 005_guild_owners.sql arrived before another branch's 004.
-- Delete this file when a real 004 is merged.
SELECT 1;
