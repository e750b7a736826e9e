DROP INDEX IF EXISTS chat_messages_chat_user_date_idx;
DROP INDEX IF EXISTS chat_users_user_id_idx;
