-- Not a version of the Python bot: where the chats that left this database went. `multisource
-- move-chat` and `archive` write a chat's row in the transaction that deletes the chat's rows
-- here (`destination`, the source it went to), and rewrite it with `destination` NULL in the
-- transaction that brings the chat back; `seq` grows with every change, so that a running bot
-- reads only what changed since it last looked, and its calls for a chat that left follow it.
-- A table of the library's own: calls may read it, never write it.
CREATE TABLE IF NOT EXISTS multisource_chat_moves (
    seq INTEGER PRIMARY KEY NOT NULL,
    chat INTEGER NOT NULL UNIQUE,
    destination TEXT,
    moved_at TIMESTAMP NOT NULL
);
