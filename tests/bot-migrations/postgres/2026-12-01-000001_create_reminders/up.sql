CREATE TABLE reminders (
    chat_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    text TEXT NOT NULL,
    delivered BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX reminders_due ON reminders (delivered, due_at);
