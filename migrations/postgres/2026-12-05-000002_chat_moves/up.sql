-- Where the chats that left this database went (see the SQLite migration of the same name), and
-- the check a write makes when it begins: `multisource_moves_unchanged(n)` fails when a chat's
-- move was recorded after the `n`th, so that the writer reads what changed before it writes.
CREATE TABLE IF NOT EXISTS multisource_chat_moves (
    seq BIGINT PRIMARY KEY,
    chat BIGINT NOT NULL UNIQUE,
    destination TEXT,
    moved_at TIMESTAMP NOT NULL
);

CREATE OR REPLACE FUNCTION multisource_moves_unchanged(known BIGINT) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM multisource_chat_moves WHERE seq > known) THEN
        RAISE EXCEPTION 'multisource: chat moves were recorded after %', known;
    END IF;
END
$$;
