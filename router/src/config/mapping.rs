//! Rewriting the chat mapping of a configuration file, next to the loader so that both know the
//! same spellings: the mapping table is found under every spelling the loader accepts
//! (`chatMapping`, `chat_mapping`, `chat-mapping`, ...), an entry by the chat id its key reads as,
//! and the new text is loaded by [`Config::from_toml_str`] and checked to route every chat as
//! asked before it replaces the file. Comments, other keys and the layout are kept (`toml_edit`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use super::Config;
use super::keys::canonical;
use crate::error::{Error, Result};

/// An edit of a configuration file's chat mapping, computed and checked, not yet written.
#[derive(Debug, Clone)]
pub struct MappingEdit {
    path: PathBuf,
    /// The file's text when the edit was computed.
    before: String,
    /// The new text, which loads and routes every chat of the edit as asked.
    after: String,
    /// The entries written, as they read in the file (`-1001 = "archive"`).
    entries: Vec<String>,
}

impl MappingEdit {
    /// Computes the edit that maps each chat of `changes` to its source in the configuration
    /// file at `path`, and checks it: the new text must load as a configuration and route every
    /// chat of `changes` to its source. Nothing is written; [`MappingEdit::write`] does.
    ///
    /// The mapping table is the one the file has, under any spelling the loader accepts, under
    /// `[database]` or at the top for a file that is only the database section; without one, a
    /// `[database.chatMapping]` (or `[chatMapping]`) is added at the end. An existing entry keeps
    /// its comment.
    pub fn prepare(path: &Path, changes: &[(i64, &str)]) -> Result<MappingEdit> {
        let before = fs::read_to_string(path)
            .map_err(|e| file_error(path, format!("cannot read the configuration file: {e}")))?;
        let mut doc: DocumentMut = before.parse().map_err(|e: toml_edit::TomlError| {
            file_error(path, format!("cannot edit the chat mapping: {}", e.message().trim_end()))
        })?;
        let wrapped = doc.get("database").is_some_and(Item::is_table_like);
        let root: &mut dyn TableLike = match wrapped {
            true => doc["database"]
                .as_table_like_mut()
                .ok_or_else(|| file_error(path, "`database` is not a table".into()))?,
            false => doc.as_table_mut(),
        };
        let name = root
            .iter()
            .map(|(key, _)| key.to_owned())
            .find(|key| canonical(key) == "chat_mapping")
            .unwrap_or_else(|| "chatMapping".to_owned());
        if !root.contains_key(&name) {
            root.insert(&name, Item::Table(Table::new()));
        }
        let mapping = root.get_mut(&name).and_then(Item::as_table_like_mut).ok_or_else(|| {
            file_error(path, format!("cannot edit the chat mapping: `{name}` is not a table"))
        })?;
        let mut entries = Vec::new();
        for (chat, source) in changes {
            set_entry(mapping, *chat, source);
            entries.push(format!("{chat} = \"{source}\""));
        }
        let after = doc.to_string();
        let edit = MappingEdit { path: path.to_path_buf(), before, after, entries };
        edit.check(changes)?;
        Ok(edit)
    }

    /// The entries the edit writes, as they read in the file (`-1001 = "archive"`).
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Replaces the file with the edited text, in one rename (written beside it and synced
    /// first, the folder synced after): a crash leaves the old file or the new one, never half of
    /// one. Refused when the file changed since the edit was computed.
    pub fn write(&self) -> Result<()> {
        let now = fs::read_to_string(&self.path).map_err(|e| {
            file_error(&self.path, format!("cannot read the configuration file: {e}"))
        })?;
        if now != self.before && now != self.after {
            return Err(file_error(
                &self.path,
                "the file changed while the chat mapping was being edited; run the command again"
                    .into(),
            ));
        }
        replace(&self.path, &self.after)
            .map_err(|e| file_error(&self.path, format!("cannot replace the file: {e}")))
    }

    /// The new text loads, as the file it will be, and routes every chat as asked.
    fn check(&self, changes: &[(i64, &str)]) -> Result<()> {
        let config = Config::from_text_at(&self.after, &self.path).map_err(|error| {
            file_error(
                &self.path,
                format!("the chat mapping cannot be rewritten, the result would not load: {error}"),
            )
        })?;
        for (chat, source) in changes {
            let routed = config.source_for_chat(*chat);
            if routed != *source {
                return Err(file_error(
                    &self.path,
                    format!(
                        "the chat mapping cannot be rewritten: chat {chat} would still route to \
                         `{routed}`, not `{source}`"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Sets the entry of `chat`, found by the id its key reads as (as the loader reads it, so that
/// `"-1001"`, `-1001` and `"+5"` are found), keeping its comment; or adds one.
fn set_entry(mapping: &mut dyn TableLike, chat: i64, source: &str) {
    let existing = mapping
        .iter()
        .map(|(key, _)| key.to_owned())
        .find(|key| key.parse::<i64>().ok() == Some(chat));
    match existing.as_deref().and_then(|key| mapping.get_mut(key)).and_then(Item::as_value_mut) {
        Some(value) => {
            let decor = value.decor().clone();
            *value = Value::from(source);
            *value.decor_mut() = decor;
        }
        None => {
            mapping.insert(&chat.to_string(), toml_edit::value(source));
        }
    }
}

fn file_error(path: &Path, message: String) -> Error {
    Error::Config {
        key: "chat_mapping".into(),
        line: None,
        file: Some(path.to_path_buf()),
        message,
    }
}

/// Replaces the file at `path` with `text`: written beside it, synced, renamed over it, and the
/// folder synced; the file's permissions are kept. A crash leaves the old file or the new one.
pub fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".multisource-tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    if let Ok(metadata) = fs::metadata(path) {
        let _ = fs::set_permissions(&temporary, metadata.permissions());
    }
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    sync_folder(path);
    Ok(())
}

/// Syncs the folder that holds `path`, so that a rename or a removal in it is durable.
pub fn sync_folder(path: &Path) {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(dir) = fs::File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(text: &str, chat: i64, source: &str) -> String {
        let dir = std::env::temp_dir().join(format!(
            "multisource-mapping-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bot.toml");
        fs::write(&path, text).unwrap();
        MappingEdit::prepare(&path, &[(chat, source)]).unwrap().write().unwrap();
        let out = fs::read_to_string(&path).unwrap();
        let _ = fs::remove_dir_all(&dir);
        out
    }

    const BOT: &str = "# The bot.\n[bot]\ntoken = \"x\" # secret\n\n[database]\ndefault = \"a\"\n\n\
                       [database.sources.a]\npath = \"a.db\"\n\n[database.sources.b]\n\
                       path = \"b.db\"\n\n[database.chatMapping]\n# Old chats.\n\
                       -1001 = \"a\"   # kept\n-1002 = \"b\"\n";

    #[test]
    fn an_entry_is_changed_in_place_with_its_comments() {
        let out = edited(BOT, -1001, "b");
        assert_eq!(out, BOT.replace("-1001 = \"a\"   # kept", "-1001 = \"b\"   # kept"));
    }

    #[test]
    fn a_new_entry_goes_at_the_end_of_the_mapping() {
        let out = edited(BOT, -1003, "a");
        assert_eq!(out, format!("{BOT}-1003 = \"a\"\n"));
    }

    #[test]
    fn a_file_without_a_mapping_gets_one_in_its_database_table() {
        let text = "[database]\ndefault = \"a\"\n\n[database.sources.a]\npath = \"a.db\"\n";
        let out = edited(text, 7, "a");
        assert_eq!(out, format!("{text}\n[database.chatMapping]\n7 = \"a\"\n"));
        let bare = "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chat_mapping]\n";
        assert_eq!(edited(bare, -5, "a"), format!("{bare}-5 = \"a\"\n"));
    }

    #[test]
    fn every_spelling_the_loader_accepts_is_edited_in_place() {
        for table in ["chat-mapping", "chat_mapping", "chatMapping"] {
            let text = format!(
                "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"a.db\"\n\
                 [database.sources.b]\npath = \"b.db\"\n[database.{table}]\n-1001 = \"a\"\n"
            );
            let out = edited(&text, -1001, "b");
            assert_eq!(out, text.replace("-1001 = \"a\"", "-1001 = \"b\""), "{table}");
        }
        // A key the loader reads as the same chat is that chat's entry, not a second one.
        let text = "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[sources.b]\npath = \"b.db\"\n\
                    [chatMapping]\n\"+5\" = \"a\"\n";
        assert_eq!(edited(text, 5, "b"), text.replace("\"+5\" = \"a\"", "\"+5\" = \"b\""));
        let inline = "default = \"a\"\nchat-mapping = { -7 = \"a\" }\n[sources.a]\npath = \"a.db\"\n\
                      [sources.b]\npath = \"b.db\"\n";
        assert!(edited(inline, -7, "b").contains("-7 = \"b\""));
    }

    #[test]
    fn an_edit_that_would_not_load_or_route_is_refused_before_anything_is_written() {
        let dir =
            std::env::temp_dir().join(format!("multisource-mapping-bad-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bot.toml");
        fs::write(&path, BOT).unwrap();
        let err = MappingEdit::prepare(&path, &[(-1001, "nowhere")]).unwrap_err();
        assert!(err.to_string().contains("would not load"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), BOT);
        let _ = fs::remove_dir_all(&dir);
    }
}
