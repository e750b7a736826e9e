-- Not a version of the Python bot: two indexes its schema lacked, for lookups the bot makes all
-- the time. A database created by the Python bot still opens read-only without them (the schema
-- check looks at tables and columns); opened writable, it gets them.

-- `get_user_chats` finds a user's chats: without this, a scan of `chat_users`.
CREATE INDEX IF NOT EXISTS chat_users_user_id_idx ON chat_users (user_id);

-- `get_chat_messages_by_user` finds a user's latest messages in a chat: without this, a scan of
-- the chat's messages and a sort by date.
CREATE INDEX IF NOT EXISTS chat_messages_chat_user_date_idx ON chat_messages (chat_id, user_id, date);
