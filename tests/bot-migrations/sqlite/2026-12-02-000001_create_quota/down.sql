ALTER TABLE chat_settings DROP COLUMN set_by;
DROP TABLE quota;
