//! The kinds of source, and the connection a query runs on: a SQLite connection or, with the
//! `postgres` feature, a PostgreSQL one.

use std::fmt;

use diesel::QueryResult;
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;

/// The kind of database behind a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A SQLite file (`path`).
    Sqlite,
    /// A PostgreSQL server (`url`).
    Postgres,
}

impl Kind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }

    /// The kind of server a URL's scheme names: `postgres://` and `postgresql://` are PostgreSQL.
    pub fn of_url(url: &str) -> Option<Kind> {
        let scheme = url.split_once("://")?.0;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Kind::Postgres),
            _ => None,
        }
    }

    /// True when this build of multisource can open sources of this kind (PostgreSQL's needs the
    /// `postgres` feature).
    pub fn is_built(self) -> bool {
        match self {
            Kind::Sqlite => true,
            Kind::Postgres => cfg!(feature = "postgres"),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        })
    }
}

/// The connection a routed call runs on, of the kind of its source.
///
/// The queries annotated with `#[multisource::read]` and `#[multisource::write]` are compiled for
/// each kind, and the generated methods pick the right one; code given to `Database::read_any`
/// and the like matches on it. New kinds may be added: match with a `_` arm.
#[non_exhaustive]
pub enum Conn<'a> {
    /// A SQLite source's connection.
    Sqlite(&'a mut SqliteConnection),
    /// A PostgreSQL source's connection.
    #[cfg(feature = "postgres")]
    Pg(&'a mut diesel::PgConnection),
}

impl Conn<'_> {
    /// The kind of the source.
    pub fn kind(&self) -> Kind {
        match self {
            Conn::Sqlite(_) => Kind::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Pg(_) => Kind::Postgres,
        }
    }
}

impl fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conn::{:?}", self.kind())
    }
}

impl SimpleConnection for Conn<'_> {
    fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        match self {
            Conn::Sqlite(conn) => conn.batch_execute(query),
            #[cfg(feature = "postgres")]
            Conn::Pg(conn) => conn.batch_execute(query),
        }
    }
}

/// A URL with its password hidden, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) => format!("{before}password=***"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_from_urls() {
        assert_eq!(redact("postgres://bot:s3cret@db:5432/bot"), "postgres://bot:***@db:5432/bot");
        assert_eq!(redact("postgres://bot@db/bot"), "postgres://bot@db/bot");
        assert_eq!(
            redact("postgresql://db/bot?user=a&password=x"),
            "postgresql://db/bot?user=a&password=***"
        );
        assert_eq!(redact("postgres://a:b:c@h"), "postgres://a:***@h");
    }
}
