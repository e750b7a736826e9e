DROP TABLE IF EXISTS multisource_chat_moves;
