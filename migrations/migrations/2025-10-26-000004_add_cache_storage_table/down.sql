DROP INDEX IF EXISTS idx_cache_namespace;
DROP TABLE IF EXISTS cache_storage;

-- The Python bot keeps its schema version in `settings`; keeping it in step lets the Python bot open this file too.
INSERT INTO settings (key, value, updated_at) VALUES ('db-migration-version', '3', CURRENT_TIMESTAMP)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = CURRENT_TIMESTAMP;
