//! What errors say: the database's own message, the pool that was busy and its size.

use multisource::{Database, Error, NewMessage};

use crate::common::Scratch;

#[test]
fn a_failed_query_says_what_the_database_said() {
    let scratch = Scratch::new();
    let db = Database::open_path(scratch.path("bot.db")).unwrap();
    db.update_chat_user(-1001, 7, "@u", "U").unwrap();
    let now = chrono::Utc::now().naive_utc();
    db.save_chat_message(now, -1001, 7, "42", &NewMessage::default()).unwrap();
    let err = db.save_chat_message(now, -1001, 7, "42", &NewMessage::default()).unwrap_err();
    assert!(matches!(err, Error::Query { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("query on source `default` failed: UNIQUE constraint failed"),
        "{text}"
    );
    assert!(text.contains("chat_messages"), "{text}");
}
