//! The sources as this tool sees them. They are opened through the router's own opening, for a
//! tool's purpose (`multisource_router::Opened`), whose methods speak each kind's SQL; here is
//! only what the commands share about them.

use multisource::{SchemaState, SourceConfig};
use multisource_migrations::{Schema, Table};

/// Whether the source's data is there without asking the database: a SQLite file must exist;
/// a server is asked by connecting.
pub(crate) fn exists(source: &SourceConfig) -> bool {
    source.location().exists()
}

/// The tables of `schema` that hold rows of chats (those with a `chat_id` column), as the
/// migrations define them, a bot's own included.
pub(crate) fn chat_tables(schema: &Schema) -> Vec<&Table> {
    schema.expected().iter().filter(|t| t.columns.iter().any(|c| c.name == "chat_id")).collect()
}

/// The schema state in a word, for scripts.
pub(crate) fn state_word(state: &SchemaState) -> &'static str {
    match state {
        SchemaState::Empty => "empty",
        SchemaState::Managed { pending } if pending.is_empty() => "current",
        SchemaState::Managed { .. } => "pending",
        SchemaState::Python { .. } => "python",
        SchemaState::Unknown => "unknown",
    }
}
