//! What a source says of the chats that left it: the router's copy of the source's table of chat
//! moves (`multisource_chat_moves`), so that a running bot's calls follow a chat moved by
//! `multisource move-chat` or `archive`, in this process or another, without a restart.
//!
//! The move writes the chat's row in the origin's table (the chat, its destination) in the
//! transaction that deletes the chat's rows there, and rewrites it with no destination in the
//! destination's table in the transaction that copies them in (the chat came back); every change
//! takes a `seq` greater than any before, so that the router reads only the rows past the
//! greatest it knows ([`Moves::refresh`]). A chat has left a source exactly when the source's
//! committed state says so, and its rows are gone in the same state: so a call for the chat
//! checks, in the same state it runs against, whether the chat is still there.
//!
//! - **Writes** check inside their own transaction, which holds the source's write lock (a
//!   SQLite file's, or on PostgreSQL the lock the move takes first): the rows cannot leave
//!   between the check and the commit. The table is read again only when something may have
//!   changed it: on SQLite, when the file's data version says another connection committed since
//!   the writer's last transaction; on PostgreSQL, when the check made in the same round trip as
//!   the `BEGIN` says a move was recorded past the greatest `seq` known.
//! - **Reads** look at what the router knows, read again when the file changed since it was last
//!   read (the watch's token, which a commit of anyone rewrites), run, and look again if anything
//!   committed while they ran: a read whose chat left (or came back) meanwhile runs again where
//!   the chat is now. On PostgreSQL, which gives no such token, the second look is a query.
//!
//! A chat whose call found it gone is remembered in the router's mapping ([`crate::live`]), so
//! that later calls go straight to where it went.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use diesel::prelude::*;
use rustc_hash::FxHashMap;

use crate::backend::Conn;

diesel::table! {
    /// The table of chat moves, as the migrations make it.
    multisource_chat_moves (seq) {
        seq -> BigInt,
        chat -> BigInt,
        destination -> Nullable<Text>,
    }
}

/// One row of the table: a change of where a chat is.
pub(crate) type Change = (i64, i64, Option<String>);

/// The rows of the table past `seq`, in the order they were written, on a connection of either
/// kind (the same query for both).
macro_rules! since {
    ($conn:expr, $seq:expr) => {{
        use self::multisource_chat_moves::dsl as t;
        t::multisource_chat_moves
            .filter(t::seq.gt($seq))
            .order(t::seq)
            .select((t::seq, t::chat, t::destination))
            .load::<Change>($conn)
    }};
}

/// The rows of the table past `seq`, in the order they were written.
pub(crate) fn since(conn: Conn<'_>, seq: i64) -> QueryResult<Vec<Change>> {
    conn.run((), |c, ()| since!(c, seq), crate::__if_postgres!(expr: |c, ()| since!(c, seq)))
}

/// Everything the table holds, when the source has it: what opening a source reads.
pub(crate) fn load(conn: Conn<'_>) -> QueryResult<Option<Vec<Change>>> {
    let table = multisource_migrations::MOVES_TABLE;
    conn.run(
        (),
        |c, ()| match multisource_migrations::tables(c)?.iter().any(|t| t.name == table) {
            true => since!(c, 0).map(Some),
            false => Ok(None),
        },
        crate::__if_postgres!(
            expr: |c, ()| match multisource_migrations::postgres::table_names(c)?.iter().any(|t| t == table) {
                true => since!(c, 0).map(Some),
                false => Ok(None),
            }
        ),
    )
}

/// What a source's table says of one chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The change that wrote it.
    pub(crate) seq: i64,
    /// The source the chat went to; `None` when it came back.
    pub(crate) destination: Option<Box<str>>,
}

impl Entry {
    /// Where the chat went, if it left.
    pub(crate) fn departure(&self) -> Option<Departure> {
        self.destination.clone().map(|to| Departure { to, seq: self.seq })
    }
}

/// Where a chat went from a source, as its table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Departure {
    /// The destination's name, as the move's configuration calls it.
    pub(crate) to: Box<str>,
    /// The change that recorded it.
    pub(crate) seq: i64,
}

/// The router's copy of one source's table of chat moves.
#[derive(Debug)]
pub(crate) struct Moves {
    /// The source has the table (a read-only source made before it may not): without it, no
    /// chat ever left the source as far as anyone can tell.
    present: bool,
    known: RwLock<Known>,
    /// Some chat has an entry: until then a call's look costs one load of this flag.
    any: AtomicBool,
    /// The watch's stamp at which `known` was last complete, for SQLite readers (0: none).
    verified: AtomicU64,
}

#[derive(Debug, Default)]
struct Known {
    /// The greatest `seq` read.
    seq: i64,
    chats: FxHashMap<i64, Entry>,
}

impl Moves {
    /// The copy of a source's table, with what it holds already (`None`: the source has no
    /// table).
    pub(crate) fn new(changes: Option<Vec<Change>>) -> Moves {
        let moves = Moves {
            present: changes.is_some(),
            known: RwLock::default(),
            any: AtomicBool::new(false),
            verified: AtomicU64::new(0),
        };
        moves.apply(changes.unwrap_or_default());
        moves
    }

    /// True when the source records moves.
    #[inline]
    pub(crate) fn present(&self) -> bool {
        self.present
    }

    /// The greatest `seq` read.
    pub(crate) fn seq(&self) -> i64 {
        self.known.read().unwrap_or_else(|e| e.into_inner()).seq
    }

    /// What the table said of `chat` when last read.
    #[inline]
    pub(crate) fn entry(&self, chat: i64) -> Option<Entry> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.known.read().unwrap_or_else(|e| e.into_inner()).chats.get(&chat).cloned()
    }

    /// Where `chat` went, if the table said it left.
    #[inline]
    pub(crate) fn left(&self, chat: i64) -> Option<Departure> {
        self.entry(chat)?.departure()
    }

    /// Takes in the rows read past the greatest `seq` known.
    pub(crate) fn apply(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        for (seq, chat, destination) in changes {
            known.seq = known.seq.max(seq);
            let newer = known.chats.get(&chat).is_none_or(|e| e.seq < seq);
            if newer {
                known.chats.insert(chat, Entry { seq, destination: destination.map(Into::into) });
            }
        }
        self.any.store(!known.chats.is_empty(), Ordering::Release);
    }

    /// Reads what changed in the table since it was last read, on `conn` (in the state its
    /// transaction, or its next statement, sees).
    pub(crate) fn refresh(&self, conn: Conn<'_>) -> QueryResult<()> {
        self.apply(since(conn, self.seq())?);
        Ok(())
    }

    /// True when the copy was complete at the watch's `stamp`: nothing has committed since.
    #[inline]
    pub(crate) fn verified_at(&self, stamp: u64) -> bool {
        self.verified.load(Ordering::Acquire) == stamp
    }

    /// Records that the copy is complete at `stamp` (it was read at or after it).
    pub(crate) fn verified(&self, stamp: u64) {
        self.verified.store(stamp, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_change_wins_and_a_chat_that_came_back_has_not_left() {
        let moves = Moves::new(Some(vec![(1, 10, Some("b".into()))]));
        assert_eq!(moves.left(10), Some(Departure { to: "b".into(), seq: 1 }));
        assert_eq!(moves.left(11), None);
        moves.apply(vec![(3, 10, None), (2, 11, Some("c".into()))]);
        assert_eq!(moves.left(10), None);
        assert_eq!(moves.entry(10).map(|e| e.seq), Some(3));
        assert_eq!(moves.left(11).map(|d| d.to), Some("c".into()));
        assert_eq!(moves.seq(), 3);
        // A change read twice, or out of order, does not undo a later one.
        moves.apply(vec![(1, 10, Some("b".into()))]);
        assert_eq!(moves.left(10), None);
        assert!(!Moves::new(None).present());
    }
}
