//! The attributes that turn a plain diesel query function into a routed method of
//! `multisource::Database`. Use them through `multisource`: `#[multisource::read(...)]` and
//! `#[multisource::write(...)]`.
//!
//! The function stays as written and usable on its own with a plain connection. Its first
//! parameter is the connection (`conn: &mut multisource::Connection`) and it returns diesel's
//! `QueryResult<T>`. The generated method drops the connection, adds `source: Option<&str>` last
//! for reads (writes never get one), and returns `multisource::Result<T>`:
//!
//! ```text
//! #[multisource::read(chat = chat_id)]
//! pub fn count_messages(conn: &mut Connection, chat_id: i64) -> QueryResult<i64> { ... }
//! // generates
//! fn count_messages(&self, chat_id: i64, source: Option<&str>) -> multisource::Result<i64>;
//! ```
//!
//! Options, one scope per query:
//!
//! - `chat = <parameter>`: the query concerns one chat; the parameter (or an expression of the
//!   parameters) gives its id. Reads go to the explicit `source`, else the chat's mapped source,
//!   else the default source; writes to the chat's mapped source, else the default source.
//! - `global`: reads go to the explicit `source`, else the default source; writes to the default
//!   source.
//! - `all_sources, key = <field>` (reads only): without `source`, the query runs on every source
//!   and the rows are merged, keeping the first row of each `key` (the first source wins).
//!
//! - `finish = <function>` (reads only, not with `all_sources`): the result goes through
//!   `fn(&Database, Option<i64>, Option<&str>, T) -> multisource::Result<T>` (the database, the
//!   chat id, the `source` argument and the value) before it is returned; for example to look up
//!   rows the query's source does not hold in another source.
//! - `cached` (reads of one chat or global reads, not with `all_sources` or `finish`): on a
//!   SQLite source with `cache` on, the answer is kept in memory and given again while nothing
//!   commits to the source (see `multisource::SqliteFile::cache`). The answer must be what the
//!   query makes of the rows it reads, for its arguments, and nothing else (not the clock); the
//!   parameters must have owned forms (`to_owned()`) that are `Hash + Eq + Send + Sync +
//!   'static`, and the returned type must be `Clone + Send + Sync + 'static`.
//!
//! Inside the `multisource` crate the methods are inherent methods of `Database`. In any other
//! crate each query gets an extension trait named after it (`count_messages` gives
//! `CountMessagesExt`), implemented for `Database`; bring it into scope to call the method.

mod expand;
mod migrations;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

use crate::expand::Mode;
use multisource_macros_model::Kind;

/// Declares a diesel function a read and generates its routed `Database` method, which takes
/// `source: Option<&str>` last. See the [crate documentation](crate) for the options.
#[proc_macro_attribute]
pub fn read(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_inner(Kind::Read, attr.into(), item.into(), mode()).into()
}

/// Declares a diesel function a write and generates its routed `Database` method, which runs it
/// in one `BEGIN IMMEDIATE` transaction and has no source parameter. See the
/// [crate documentation](crate) for the options.
#[proc_macro_attribute]
pub fn write(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_inner(Kind::Write, attr.into(), item.into(), mode()).into()
}

/// Embeds a bot's own migrations, in diesel's format, in its binary: a folder per migration,
/// named `<version>_<description>` (`2026-12-01-000001_create_reminders`), holding `up.sql` and
/// `down.sql`. The folders are relative to the crate's `Cargo.toml`; `postgres` is needed only
/// for PostgreSQL sources. It makes a `multisource::BotMigrations`, given to
/// `Config::with_migrations`:
///
/// ```text
/// static MIGRATIONS: multisource::BotMigrations =
///     multisource::migrations!(sqlite = "migrations", postgres = "migrations-postgres");
/// ```
///
/// Each file is included with `include_str!`, so editing one rebuilds the crate; a new folder
/// needs a `build.rs` with `println!("cargo:rerun-if-changed=migrations")` to be seen, as with
/// diesel's own `embed_migrations!`.
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    let folders = syn::parse_macro_input!(input as migrations::Folders);
    migrations::expand(folders).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Inherent methods in the crate that defines `Database`, an extension trait everywhere else.
fn mode() -> Mode {
    match std::env::var("CARGO_CRATE_NAME").as_deref() {
        Ok("multisource") => Mode::Inherent,
        _ => Mode::Extension,
    }
}

fn expand_inner(
    kind: Kind,
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
    mode: Mode,
) -> proc_macro2::TokenStream {
    let func = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                format!("`#[{}]` goes on a function: {error}", kind.as_str()),
            );
            return expand::with_errors(item, error);
        }
    };
    match multisource_macros_model::parse(kind, attr, func) {
        Ok(query) => expand::expand(&query, mode),
        Err(error) => expand::with_errors(item, error),
    }
}
