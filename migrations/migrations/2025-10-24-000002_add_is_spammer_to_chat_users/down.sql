ALTER TABLE chat_users DROP COLUMN is_spammer;

-- The Python bot keeps its schema version in `settings`; keeping it in step lets the Python bot open this file too.
INSERT INTO settings (key, value, updated_at) VALUES ('db-migration-version', '1', CURRENT_TIMESTAMP)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = CURRENT_TIMESTAMP;
