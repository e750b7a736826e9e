-- Version 4 of the Python bot's schema: "add_cache_storage_table".
CREATE TABLE IF NOT EXISTS cache_storage (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS idx_cache_namespace ON cache_storage (namespace);

-- The Python bot keeps its schema version in `settings`; keeping it in step lets the Python bot open this file too.
INSERT INTO settings (key, value, updated_at) VALUES ('db-migration-version', '4', CURRENT_TIMESTAMP)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = CURRENT_TIMESTAMP;
