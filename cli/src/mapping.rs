//! Rewriting a chat's entry in the configuration file's chat mapping, keeping every comment, every
//! other key and the layout (`toml_edit`), and replacing the file atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::output::{Failure, describe};

/// Maps `chat` to `source` in the configuration file at `path`; returns the entry as written.
///
/// The mapping table is the one the file has (`chatMapping` or `chat_mapping`, under `[database]`
/// or at the top for a file that is only the database section), or a new `[database.chatMapping]`
/// (or `[chatMapping]`) at the end. An existing entry keeps its comment. The new text replaces
/// the file in one rename, so that a crash leaves the old file or the new one, never half of one;
/// it is read back through `Config::from_file` before it replaces the file.
pub(crate) fn set_chat_source(path: &Path, chat: i64, source: &str) -> Result<String, Failure> {
    let text = fs::read_to_string(path)
        .map_err(|e| Failure::Failed(format!("cannot read {}: {e}", path.display())))?;
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Failure::Failed(format!("cannot edit {}: {}", path.display(), e.message()))
    })?;
    let key = chat.to_string();
    let wrapped = doc.get("database").is_some_and(Item::is_table_like);
    let root: &mut Table = match wrapped {
        true => doc["database"]
            .as_table_mut()
            .ok_or_else(|| not_editable(path, "`database` is not a table"))?,
        false => doc.as_table_mut(),
    };
    let name = ["chatMapping", "chat_mapping"]
        .into_iter()
        .find(|n| root.contains_key(n))
        .unwrap_or("chatMapping");
    if !root.contains_key(name) {
        root.insert(name, Item::Table(Table::new()));
    }
    let mapping = root
        .get_mut(name)
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| not_editable(path, &format!("`{name}` is not a table")))?;
    match mapping.get_mut(&key).and_then(Item::as_value_mut) {
        Some(value) => {
            let decor = value.decor().clone();
            *value = Value::from(source);
            *value.decor_mut() = decor;
        }
        None => {
            mapping.insert(&key, toml_edit::value(source));
        }
    }
    let written = format!("{key} = \"{source}\"");
    let new_text = doc.to_string();
    replace(path, &new_text)?;
    // Read back as the bot will: the chat must route to `source`, or the old file is restored.
    let routed =
        multisource::Config::from_file(path).map_err(|e| describe(&e)).and_then(|c| {
            match c.source_for_chat(chat) == source {
                true => Ok(()),
                false => Err(format!("chat {chat} still routes to `{}`", c.source_for_chat(chat))),
            }
        });
    if let Err(why) = routed {
        replace(path, &text)?;
        return Err(Failure::Failed(format!(
            "the rewritten {} did not map chat {chat} to `{source}` ({why}); the file was restored",
            path.display()
        )));
    }
    Ok(written)
}

fn not_editable(path: &Path, why: &str) -> Failure {
    Failure::Failed(format!("cannot edit the chat mapping of {}: {why}", path.display()))
}

/// Replaces the file at `path` with `text`: written beside it, synced, renamed over it, and the
/// folder synced; the file's permissions are kept.
pub(crate) fn replace(path: &Path, text: &str) -> Result<(), Failure> {
    let failed = |what: &str, e: std::io::Error| {
        Failure::Failed(format!("cannot {what} {}: {e}", path.display()))
    };
    let temporary = sibling(path, ".multisource-tmp");
    let mut file = fs::File::create(&temporary).map_err(|e| failed("write beside", e))?;
    file.write_all(text.as_bytes()).map_err(|e| failed("write beside", e))?;
    if let Ok(metadata) = fs::metadata(path) {
        let _ = fs::set_permissions(&temporary, metadata.permissions());
    }
    file.sync_all().map_err(|e| failed("sync beside", e))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|e| failed("replace", e))?;
    sync_folder(path);
    Ok(())
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Syncs the folder that holds `path`, so that a rename or a removal in it is durable.
pub(crate) fn sync_folder(path: &Path) {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(dir) = fs::File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(text: &str, chat: i64, source: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.toml");
        fs::write(&path, text).unwrap();
        fs::write(dir.path().join("a.db"), "").unwrap();
        set_chat_source(&path, chat, source).unwrap();
        fs::read_to_string(&path).unwrap()
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
}
