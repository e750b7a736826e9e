DROP FUNCTION IF EXISTS multisource_moves_unchanged(BIGINT);
DROP TABLE IF EXISTS multisource_chat_moves;
