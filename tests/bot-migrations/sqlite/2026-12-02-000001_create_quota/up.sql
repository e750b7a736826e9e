-- A second migration, run after the first; it also adds a column to one of multisource's tables.
CREATE TABLE quota (
    chat_id INTEGER NOT NULL PRIMARY KEY,
    used INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE chat_settings ADD COLUMN set_by INTEGER;
