//! The operator's command line, run in this process (`multisource_cli::run`), on what the library
//! accepts: every spelling of the chat mapping the loader reads is the one a move rewrites.

use multisource::{Config, Database, NewMessage};

use crate::common::Scratch;

/// Runs the operator's command line in this process; its exit status.
fn multisource(args: &[&str]) -> u8 {
    multisource_cli::run_captured(std::iter::once("multisource").chain(args.iter().copied())).status
}

#[test]
fn a_move_rewrites_the_chat_mapping_under_every_spelling_the_loader_accepts() {
    let chat = -1001234567890;
    for table in ["chatMapping", "chat_mapping", "chat-mapping", "ChatMapping"] {
        let scratch = Scratch::new();
        let config = scratch.path("bot.toml");
        let text = format!(
            "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"a.db\"\n\
             [database.sources.b]\npath = \"b.db\"\n\n[database.{table}]\n{chat} = \"a\" # here\n"
        );
        std::fs::write(&config, &text).unwrap();
        let loaded = Config::from_file(&config);
        if table == "ChatMapping" {
            // Not a spelling of the loader's: refused at load, and so by the command.
            assert!(loaded.is_err(), "{table}");
            let args =
                ["move-chat", "--config", config.to_str().unwrap(), "--chat", "1", "--to", "b"];
            assert_eq!(multisource(&args), 2);
            continue;
        }
        let db = Database::open(loaded.unwrap()).unwrap();
        db.update_chat_user(chat, 7, "@u", "U").unwrap();
        let now = chrono::Utc::now().naive_utc();
        db.save_chat_message(now, chat, 7, "1", &NewMessage::default()).unwrap();
        drop(db);
        let chat_text = chat.to_string();
        let args =
            ["move-chat", "--config", config.to_str().unwrap(), "--chat", &chat_text, "--to", "b"];
        assert_eq!(multisource(&args), 0, "{table}");
        let rewritten = std::fs::read_to_string(&config).unwrap();
        assert_eq!(
            rewritten,
            text.replace(&format!("{chat} = \"a\""), &format!("{chat} = \"b\"")),
            "{table}: the entry changed in place, its comment kept"
        );
        let db = Database::from_config_file(&config).unwrap();
        assert_eq!(db.route(Some(chat), None).unwrap().source(), "b", "{table}");
        assert!(db.get_chat_message_by_message_id(chat, "1", None).unwrap().is_some(), "{table}");
        assert!(
            db.get_chat_message_by_message_id(chat, "1", Some("a")).unwrap().is_none(),
            "{table}: the origin holds nothing of the chat"
        );
        assert!(!scratch.path("bot.toml.move-journal").exists(), "{table}");
    }
}
