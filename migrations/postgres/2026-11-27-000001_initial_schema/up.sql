-- The schema of multisource on PostgreSQL: the same tables, columns and meaning as the SQLite
-- schema after all its migrations (the Python bot's version 6 and the lookup indexes), with
-- PostgreSQL's types: SQLite's 64-bit INTEGER is BIGINT, FLOAT is DOUBLE PRECISION, TIMESTAMP is
-- a timestamp without time zone holding UTC, as SQLite's CURRENT_TIMESTAMP does.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE chat_messages (
    chat_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    date TIMESTAMP NOT NULL,
    user_id BIGINT NOT NULL,
    reply_id TEXT,
    thread_id BIGINT NOT NULL DEFAULT 0,
    root_message_id TEXT,
    message_text TEXT NOT NULL,
    message_type TEXT DEFAULT 'text' NOT NULL,
    message_category TEXT DEFAULT 'user' NOT NULL,
    quote_text TEXT,
    media_id TEXT,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, message_id)
);

CREATE TABLE chat_settings (
    chat_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, key)
);

CREATE TABLE chat_users (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    full_name TEXT NOT NULL,
    timezone TEXT,
    messages_count BIGINT DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    is_spammer BOOLEAN DEFAULT FALSE NOT NULL,
    metadata TEXT DEFAULT '' NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

CREATE TABLE chat_info (
    chat_id BIGINT PRIMARY KEY,
    title TEXT,
    username TEXT,
    type TEXT NOT NULL,
    is_forum BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE chat_stats (
    chat_id BIGINT NOT NULL,
    date TIMESTAMP NOT NULL,
    messages_count BIGINT DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, date)
);

CREATE TABLE chat_user_stats (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    date TIMESTAMP NOT NULL,
    messages_count BIGINT DEFAULT 0 NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, user_id, date)
);

CREATE TABLE media_attachments (
    file_unique_id TEXT PRIMARY KEY,
    file_id TEXT,
    file_size BIGINT,
    media_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    mime_type TEXT,
    local_url TEXT,
    prompt TEXT,
    description TEXT,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE delayed_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    delayed_ts BIGINT NOT NULL,
    function TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    is_done BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE user_data (
    user_id BIGINT NOT NULL,
    chat_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (user_id, chat_id, key)
);

CREATE TABLE spam_messages (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    text TEXT NOT NULL,
    reason TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, user_id, message_id)
);

CREATE TABLE ham_messages (
    chat_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    text TEXT NOT NULL,
    reason TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, user_id, message_id)
);

CREATE TABLE chat_topics (
    chat_id BIGINT NOT NULL,
    topic_id BIGINT NOT NULL,
    icon_color BIGINT,
    icon_custom_emoji_id TEXT,
    name TEXT,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (chat_id, topic_id)
);

CREATE TABLE chat_summarization_cache (
    csid TEXT PRIMARY KEY,
    chat_id BIGINT NOT NULL,
    topic_id BIGINT,
    first_message_id TEXT NOT NULL,
    last_message_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE bayes_tokens (
    token TEXT NOT NULL,
    chat_id BIGINT,
    spam_count BIGINT DEFAULT 0,
    ham_count BIGINT DEFAULT 0,
    total_count BIGINT DEFAULT 0,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE NULLS NOT DISTINCT (token, chat_id)
);

CREATE TABLE bayes_classes (
    chat_id BIGINT,
    is_spam BOOLEAN NOT NULL,
    message_count BIGINT DEFAULT 0,
    token_count BIGINT DEFAULT 0,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE NULLS NOT DISTINCT (chat_id, is_spam)
);

CREATE TABLE cache_weather (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE cache_geocoding (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE cache_yandex_search (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE cache_geocode_maps_search (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE cache_geocode_maps_reverse (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE cache_geocode_maps_lookup (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE cache_storage (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (namespace, key)
);

CREATE INDEX chat_summarization_cache_ctfl_index
    ON chat_summarization_cache (chat_id, topic_id, first_message_id, last_message_id, prompt);
CREATE INDEX bayes_tokens_chat_idx ON bayes_tokens (chat_id);
CREATE INDEX bayes_tokens_total_idx ON bayes_tokens (total_count);
CREATE INDEX bayes_classes_chat_idx ON bayes_classes (chat_id);
CREATE INDEX idx_cache_namespace ON cache_storage (namespace);
CREATE INDEX chat_users_user_id_idx ON chat_users (user_id);
CREATE INDEX chat_messages_chat_user_date_idx ON chat_messages (chat_id, user_id, date);

-- The Python bot's schema version, kept as on SQLite.
INSERT INTO settings (key, value, updated_at) VALUES ('db-migration-version', '6', now() AT TIME ZONE 'utc');
