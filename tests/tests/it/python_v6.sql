-- The Python bot's schema at its version 6, exactly as `reference/upstream-behaviour.md` section 1.2
-- gives it (read from sqlite_master of a database the Python bot created), and rows written with
-- the Python bot's value conventions: timestamps as `YYYY-MM-DD HH:MM:SS` UTC text, booleans as 0/1,
-- message ids as text, enums as their strings, the schema version in `settings`.
CREATE TABLE settings (                      -- created by _initDatabase, not a migration
    key TEXT PRIMARY KEY,
    value TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE chat_messages (                 -- v1
    chat_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    date TIMESTAMP NOT NULL,
    user_id INTEGER NOT NULL,
    reply_id TEXT,
    thread_id INTEGER NOT NULL DEFAULT 0,
    root_message_id TEXT,
    message_text TEXT NOT NULL,
    message_type TEXT DEFAULT 'text' NOT NULL,
    message_category TEXT DEFAULT 'user' NOT NULL,
    quote_text TEXT,
    media_id TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, message_id)
);                                           -- note: no updated_at column

CREATE TABLE chat_settings (                 -- v1
    chat_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, key)
);

CREATE TABLE chat_users (                    -- v1 + v2 (is_spammer) + v3 (metadata)
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    username TEXT NOT NULL,
    full_name TEXT NOT NULL,
    timezone TEXT,
    messages_count INTEGER DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    is_spammer BOOLEAN DEFAULT FALSE NOT NULL,
    metadata TEXT DEFAULT '' NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

CREATE TABLE chat_info (                     -- v1
    chat_id INTEGER PRIMARY KEY,             -- rowid alias
    title TEXT,
    username TEXT,
    type TEXT NOT NULL,
    is_forum BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE chat_stats (                    -- v1
    chat_id INTEGER NOT NULL,
    date TIMESTAMP NOT NULL,
    messages_count INTEGER DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, date)
);

CREATE TABLE chat_user_stats (               -- v1
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    date TIMESTAMP NOT NULL,
    messages_count INTEGER DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, user_id, date)
);

CREATE TABLE media_attachments (             -- v1
    file_unique_id TEXT PRIMARY KEY,
    file_id TEXT,
    file_size INTEGER,
    media_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    mime_type TEXT,
    local_url TEXT,
    prompt TEXT,
    description TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE delayed_tasks (                 -- v1
    id TEXT PRIMARY KEY NOT NULL,
    delayed_ts INTEGER NOT NULL,
    function TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    is_done BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE user_data (                     -- v1
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id, chat_id, key)
);

CREATE TABLE spam_messages (                 -- v1
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    text TEXT NOT NULL,
    reason TEXT NOT NULL,
    score FLOAT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, user_id, message_id)
);

CREATE TABLE ham_messages (                  -- v1, identical shape to spam_messages
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    text TEXT NOT NULL,
    reason TEXT NOT NULL,
    score FLOAT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, user_id, message_id)
);

CREATE TABLE chat_topics (                   -- v1
    chat_id INTEGER NOT NULL,
    topic_id INTEGER NOT NULL,
    icon_color INTEGER,
    icon_custom_emoji_id TEXT,
    name TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, topic_id)
);

CREATE TABLE chat_summarization_cache (      -- v1
    csid TEXT PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    topic_id INTEGER,
    first_message_id TEXT NOT NULL,
    last_message_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE bayes_tokens (                  -- v1 (chat_id NULL = global model)
    token TEXT NOT NULL,
    chat_id INTEGER,
    spam_count INTEGER DEFAULT 0,
    ham_count INTEGER DEFAULT 0,
    total_count INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (token, chat_id)
);

CREATE TABLE bayes_classes (                 -- v1
    chat_id INTEGER,
    is_spam BOOLEAN NOT NULL,
    message_count INTEGER DEFAULT 0,
    token_count INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, is_spam)
);

CREATE TABLE cache_storage (                 -- v4
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,   -- no created_at
    PRIMARY KEY (namespace, key)
);

-- v1 (fresh DB) / v5 / v6: one table per CacheType value, identical shape:
-- cache_weather, cache_geocoding, cache_yandex_search,
-- cache_geocode_maps_search, cache_geocode_maps_reverse, cache_geocode_maps_lookup
CREATE TABLE cache_weather (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE cache_geocoding (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE cache_yandex_search (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE cache_geocode_maps_search (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE cache_geocode_maps_reverse (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE cache_geocode_maps_lookup (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX chat_summarization_cache_ctfl_index
    ON chat_summarization_cache (chat_id, topic_id, first_message_id, last_message_id, prompt);
CREATE INDEX bayes_tokens_chat_idx  ON bayes_tokens(chat_id);
CREATE INDEX bayes_tokens_total_idx ON bayes_tokens(total_count);
CREATE INDEX bayes_classes_chat_idx ON bayes_classes(chat_id);
CREATE INDEX idx_cache_namespace    ON cache_storage(namespace);

INSERT INTO settings (key, value, created_at, updated_at) VALUES
    ('db-migration-version', '6', '2025-12-03 01:32:00', '2025-12-03 01:32:00'),
    ('db-migration-last-run', '2025-12-03T04:32:00.123456', '2025-12-03 01:32:00', '2025-12-03 01:32:00'),
    ('bot-owner', 'gromozeka', '2025-12-03 01:32:00', '2025-12-03 01:32:00');
INSERT INTO chat_info (chat_id, title, username, type, is_forum, created_at, updated_at) VALUES
    (-1001234567890, 'Old chat', NULL, 'supergroup', 1, '2025-01-02 03:04:05', '2025-01-02 03:04:05'),
    (42, NULL, 'alice', 'private', 0, '2025-01-02 03:04:05', '2025-01-02 03:04:06');
INSERT INTO chat_users (chat_id, user_id, username, full_name, timezone, messages_count, created_at, updated_at, is_spammer, metadata) VALUES
    (-1001234567890, 777001, '@alice', 'Alice O''Neil', NULL, 2, '2025-01-02 03:04:05', '2025-01-02 03:10:00', 0, ''),
    (-1001234567890, 777002, '@bob', 'Bob', 'Europe/Moscow', 0, '2025-01-02 03:04:05', '2025-01-02 03:04:05', 1, '{"note": "spam"}');
INSERT INTO chat_messages (chat_id, message_id, date, user_id, reply_id, thread_id, root_message_id, message_text, message_type, message_category, quote_text, media_id, created_at) VALUES
    (-1001234567890, '1', '2025-01-02 03:05:00', 777001, NULL, 0, NULL, 'hello ☃', 'text', 'user', NULL, NULL, '2025-01-02 03:05:00'),
    (-1001234567890, '2', '2025-01-02 03:06:00', 777001, '1', 0, '1', 'with media', 'image', 'user', 'hello', 'uniq-1', '2025-01-02 03:06:00');
INSERT INTO media_attachments (file_unique_id, file_id, file_size, media_type, metadata, status, mime_type, local_url, prompt, description, created_at, updated_at) VALUES
    ('uniq-1', 'file-1', 1024, 'image', '{}', 'done', 'image/png', NULL, NULL, 'a cat', '2025-01-02 03:06:00', '2025-01-02 03:06:30');
INSERT INTO chat_settings (chat_id, key, value, created_at, updated_at) VALUES
    (-1001234567890, 'model', 'gpt', '2025-01-02 03:04:05', '2025-01-02 03:04:05');
INSERT INTO chat_stats (chat_id, date, messages_count, created_at, updated_at) VALUES
    (-1001234567890, '2025-01-02 00:00:00', 2, '2025-01-02 03:05:00', '2025-01-02 03:06:00');
INSERT INTO chat_user_stats (chat_id, user_id, date, messages_count, created_at, updated_at) VALUES
    (-1001234567890, 777001, '2025-01-02 00:00:00', 2, '2025-01-02 03:05:00', '2025-01-02 03:06:00');
INSERT INTO user_data (user_id, chat_id, key, data, created_at, updated_at) VALUES
    (777001, -1001234567890, 'city', 'Paris', '2025-01-02 03:04:05', '2025-01-02 03:04:05');
INSERT INTO delayed_tasks (id, delayed_ts, function, kwargs, is_done, created_at, updated_at) VALUES
    ('task-1', 1735787045, 'sendMessage', '{"text": "hi"}', 0, '2025-01-02 03:04:05', '2025-01-02 03:04:05');
INSERT INTO spam_messages (chat_id, user_id, message_id, text, reason, score, created_at, updated_at) VALUES
    (-1001234567890, 777002, '9', 'buy now', 'auto', 0.97, '2025-01-02 03:04:05', '2025-01-02 03:04:05');
INSERT INTO cache_weather (key, data, created_at, updated_at) VALUES
    ('paris', '{"t": 12}', '2025-01-02 03:04:05', '2025-01-02 03:04:05');
INSERT INTO cache_storage (namespace, key, value, updated_at) VALUES
    ('ns', 'k', 'v', '2025-01-02 03:04:05');
