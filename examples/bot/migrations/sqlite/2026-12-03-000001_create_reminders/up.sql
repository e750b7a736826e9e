-- The bot's reminders: one per `/remind` message, kept after delivery as the chat's history.
-- Its key starts with `chat_id`, so that `move-chat` and `archive` move it with its chat.
CREATE TABLE reminders (
    chat_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    due_at TIMESTAMP NOT NULL,
    text TEXT NOT NULL,
    delivered BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, message_id)
);

CREATE INDEX reminders_pending ON reminders (delivered, due_at);
